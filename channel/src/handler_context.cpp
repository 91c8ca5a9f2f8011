#include "sluice/channel/handler_context.hpp"

#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/channel/pipeline.hpp"
#include "sluice/core/log.hpp"

namespace sluice {

Channel& HandlerContext::channel() const noexcept {
  return pipeline_->channel();
}
EventLoop& HandlerContext::loop() const noexcept {
  return pipeline_->channel().loop();
}

// A handler's exception goes to its own on_error, as if the failing event had raised it there.
void HandlerContext::handler_threw(std::exception_ptr exception) noexcept {
  deliver_error(error_from_exception(exception));
}

void HandlerContext::invoke_active() noexcept {
  if (removed_) return fire_active();  // reached through a stale link: its on_removed ran
  try {
    handler_->on_active(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_inactive() noexcept {
  if (removed_) return fire_inactive();
  try {
    handler_->on_inactive(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read(Message&& message) noexcept {
  if (removed_) return fire_read(std::move(message));
  try {
    handler_->on_read(*this, std::move(message));
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read_complete() noexcept {
  if (removed_) return fire_read_complete();
  try {
    handler_->on_read_complete(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_user_event(Message&& event) noexcept {
  if (removed_) return fire_user_event(std::move(event));
  try {
    handler_->on_user_event(*this, std::move(event));
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_writability_changed() noexcept {
  if (removed_) return fire_writability_changed();
  try {
    handler_->on_writability_changed(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_error(const Error& error) noexcept {
  if (removed_) return fire_error(error);
  deliver_error(error);
}

// The handler's own on_error, also once removed: an exception it threw goes to it.
void HandlerContext::deliver_error(const Error& error) noexcept {
  try {
    handler_->on_error(*this, error);
  } catch (...) {
    // An error handler that fails passes the new error on rather than recursing into itself.
    const Error nested = error_from_exception(std::current_exception());
    try {
      logger().warn("{} handler '{}' threw from on_error: {}", channel().describe(), name_,
                    nested.message());
    } catch (...) {
      // Out of memory for the log line: the error itself still goes on.
    }
    if (next_[kErrorIndex] != nullptr) next_[kErrorIndex]->invoke_error(nested);
  }
}

void HandlerContext::invoke_write(Message&& message, WriteCallback&& done) noexcept {
  if (removed_) return write(std::move(message), std::move(done));
  try {
    handler_->write(*this, std::move(message), std::move(done));
  } catch (...) {
    const Error error = error_from_exception(std::current_exception());
    complete_write(done, error);  // still ours if the handler threw before passing it on
    deliver_error(error);
  }
}

void HandlerContext::invoke_flush() noexcept {
  if (removed_) return flush();
  try {
    handler_->flush(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read_request() noexcept {
  if (removed_) return read();
  try {
    handler_->read(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_close(CloseMode mode) noexcept {
  if (removed_) return close(mode);
  try {
    handler_->close(*this, mode);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_shutdown_output() noexcept {
  if (removed_) return shutdown_output();
  try {
    handler_->shutdown_output(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

}  // namespace sluice
