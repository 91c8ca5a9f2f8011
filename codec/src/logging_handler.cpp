#include "sluice/codec/logging_handler.hpp"

#include <algorithm>
#include <string>

#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/core/log.hpp"

namespace sluice {

namespace {

// Bytes of a message dumped at most; the dump says how many more there were.
constexpr std::size_t kDumpLimit = 512;

// The hex dump of a Buffer or CompositeBuffer message (its first kDumpLimit bytes); empty for
// other messages. Bytes mapped from a file are not read: a file that shrank under its mapping
// turns the read into SIGBUS (only the kernel reads such pages, and it fails with EFAULT
// instead).
std::string dump_of(const Message& message) {
  if (const auto* buffer = message.get_if<Buffer>()) {
    if (buffer->is_external()) return "(mapped from a file: not dumped)\n";
    return buffer->hex_dump(kDumpLimit);
  }
  if (const auto* composite = message.get_if<CompositeBuffer>()) {
    if (composite->empty()) return {};
    for (std::size_t i = 0; i < composite->component_count(); ++i) {
      if (composite->component(i).is_external()) return "(mapped from a file: not dumped)\n";
    }
    const std::size_t length = std::min(composite->readable_bytes(), kDumpLimit);
    Buffer head = Buffer::allocate(length);
    composite->get_bytes(0, head.writable_span().first(length));
    head.advance_writer(length);
    std::string dump = head.hex_dump(kDumpLimit);
    if (length < composite->readable_bytes()) {
      dump += "... " + std::to_string(composite->readable_bytes() - length) + " more bytes\n";
    }
    return dump;
  }
  return {};
}

// spdlog's should_log(off) holds on every logger that is not itself off: a handler at level off
// must be refused here, or it would write each event as an "off" line.
bool would_log(spdlog::level::level_enum level) {
  return level != spdlog::level::off && logger().should_log(level);
}

}  // namespace

// A line is built only when the logger would write it: its arguments (the channel's
// description, an error's text) cost formatting and allocation before spdlog checks the level.
// Nothing that builds or writes a line escapes: an event goes on whether or not its line could
// be logged (out of memory, a logger whose error handler throws).
void LoggingHandler::log(HandlerContext& ctx, const char* event) const noexcept {
  if (!would_log(level_)) return;
  try {
    logger().log(level_, "{} {}", ctx.channel().describe(), event);
  } catch (...) {
  }
}

void LoggingHandler::log_message(HandlerContext& ctx, const char* event,
                                 const Message& message) const noexcept {
  if (!would_log(level_)) return;
  try {
    logger().log(level_, "{} {} {} ({} bytes)", ctx.channel().describe(), event,
                 message.type_name(), message.bytes());
    if (logger().should_log(spdlog::level::trace)) {
      const std::string dump = dump_of(message);
      if (!dump.empty()) logger().trace("\n{}", dump);
    }
  } catch (...) {
  }
}

void LoggingHandler::on_active(HandlerContext& ctx) {
  log(ctx, "ACTIVE");
  ctx.fire_active();
}
void LoggingHandler::on_inactive(HandlerContext& ctx) {
  log(ctx, "INACTIVE");
  ctx.fire_inactive();
}
void LoggingHandler::on_read(HandlerContext& ctx, Message&& message) {
  log_message(ctx, "READ", message);
  ctx.fire_read(std::move(message));
}
void LoggingHandler::on_read_complete(HandlerContext& ctx) {
  log(ctx, "READ COMPLETE");
  ctx.fire_read_complete();
}
void LoggingHandler::on_user_event(HandlerContext& ctx, Message&& event) {
  log_message(ctx, "USER EVENT", event);
  ctx.fire_user_event(std::move(event));
}
void LoggingHandler::on_writability_changed(HandlerContext& ctx) {
  log(ctx, ctx.channel().is_writable() ? "WRITABLE" : "NOT WRITABLE");
  ctx.fire_writability_changed();
}
void LoggingHandler::on_error(HandlerContext& ctx, const Error& error) {
  if (would_log(level_)) {
    try {
      logger().log(level_, "{} ERROR {}", ctx.channel().describe(), error.message());
    } catch (...) {
    }
  }
  ctx.fire_error(error);
}
void LoggingHandler::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  log_message(ctx, "WRITE", message);
  ctx.write(std::move(message), std::move(done));
}
void LoggingHandler::flush(HandlerContext& ctx) {
  log(ctx, "FLUSH");
  ctx.flush();
}
void LoggingHandler::read(HandlerContext& ctx) {
  log(ctx, "READ REQUEST");
  ctx.read();
}
void LoggingHandler::close(HandlerContext& ctx, CloseMode mode) {
  log(ctx, mode == CloseMode::kNow ? "CLOSE" : "CLOSE WHEN FLUSHED");
  ctx.close(mode);
}
void LoggingHandler::shutdown_output(HandlerContext& ctx) {
  log(ctx, "SHUTDOWN OUTPUT");
  ctx.shutdown_output();
}

}  // namespace sluice
