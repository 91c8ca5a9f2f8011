#pragma once

#include <spdlog/common.h>

#include "sluice/channel/channel_handler.hpp"

namespace sluice {

// Logs every event that passes through it, with the channel, at `level` (debug by default; at
// spdlog::level::off, nothing); at trace level, Buffers and CompositeBuffers are hex-dumped too
// (their first 512 bytes; bytes mapped from a file are not read, see Buffer::is_external).
// Logging never throws: an event whose line cannot be built is passed on all the same. It keeps no
// state, so one instance can serve many pipelines (add it with a std::shared_ptr).
class LoggingHandler final : public ChannelHandler {
 public:
  explicit LoggingHandler(spdlog::level::level_enum level = spdlog::level::debug) : level_(level) {}

  void on_active(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void on_user_event(HandlerContext& ctx, Message&& event) override;
  void on_writability_changed(HandlerContext& ctx) override;
  void on_error(HandlerContext& ctx, const Error& error) override;
  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;
  void flush(HandlerContext& ctx) override;
  void read(HandlerContext& ctx) override;
  void close(HandlerContext& ctx, CloseMode mode) override;
  void shutdown_output(HandlerContext& ctx) override;

 private:
  void log(HandlerContext& ctx, const char* event) const noexcept;
  void log_message(HandlerContext& ctx, const char* event, const Message& message) const noexcept;

  spdlog::level::level_enum level_;
};

}  // namespace sluice
