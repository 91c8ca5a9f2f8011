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
  invoke_error(error_from_exception(exception));
}

void HandlerContext::invoke_active() noexcept {
  try {
    handler_->on_active(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_inactive() noexcept {
  try {
    handler_->on_inactive(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read(Message&& message) noexcept {
  try {
    handler_->on_read(*this, std::move(message));
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read_complete() noexcept {
  try {
    handler_->on_read_complete(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_user_event(Message&& event) noexcept {
  try {
    handler_->on_user_event(*this, std::move(event));
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_writability_changed() noexcept {
  try {
    handler_->on_writability_changed(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_error(const Error& error) noexcept {
  try {
    handler_->on_error(*this, error);
  } catch (...) {
    // An error handler that fails passes the new error on rather than recursing into itself.
    const Error nested = error_from_exception(std::current_exception());
    logger().warn("{} handler '{}' threw from on_error: {}", channel().describe(), name_,
                  nested.message());
    if (next_[kErrorIndex] != nullptr) next_[kErrorIndex]->invoke_error(nested);
  }
}

void HandlerContext::invoke_write(Message&& message, WriteCallback&& done) noexcept {
  try {
    handler_->write(*this, std::move(message), std::move(done));
  } catch (...) {
    const Error error = error_from_exception(std::current_exception());
    complete_write(done, error);  // still ours if the handler threw before passing it on
    invoke_error(error);
  }
}

void HandlerContext::invoke_flush() noexcept {
  try {
    handler_->flush(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_read_request() noexcept {
  try {
    handler_->read(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_close() noexcept {
  try {
    handler_->close(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

void HandlerContext::invoke_shutdown_output() noexcept {
  try {
    handler_->shutdown_output(*this);
  } catch (...) {
    handler_threw(std::current_exception());
  }
}

}  // namespace sluice
