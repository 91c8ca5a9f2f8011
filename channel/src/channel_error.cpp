#include "sluice/channel/channel_error.hpp"

#include <cerrno>
#include <new>

namespace sluice {

const char* describe(ChannelErrc value) noexcept {
  switch (value) {
    case ChannelErrc::closed:
      return "channel closed";
    case ChannelErrc::output_shutdown:
      return "channel output shut down";
    case ChannelErrc::unsupported_message:
      return "message type not supported by the transport";
    case ChannelErrc::file_truncated:
      return "file shorter than its region";
    case ChannelErrc::handler_exception:
      return "handler threw";
    case ChannelErrc::pipeline_misuse:
      return "pipeline misuse";
    case ChannelErrc::connect_timeout:
      return "connect timed out";
  }
  return "unknown channel error";
}

const std::error_category& channel_category() noexcept {
  static const detail::EnumCategory<ChannelErrc> category("sluice.channel");
  return category;
}

bool is_connection_lost(const Error& error) noexcept {
  const std::error_code& code = error.code();
  if (code.category() != std::generic_category() && code.category() != std::system_category())
    return false;
  switch (code.value()) {
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
    case ENOTCONN:
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case ENETDOWN:
      return true;
    default:
      return false;
  }
}

namespace {

// The error with `what` as its context, or without a context when there is no memory for one:
// the exception is being turned into an error on a noexcept path.
Error with_context(std::error_code code, const char* what) noexcept {
  try {
    return Error(code, what);
  } catch (...) {
    return Error(code);
  }
}

}  // namespace

Error error_from_exception(std::exception_ptr exception) noexcept {
  try {
    std::rethrow_exception(exception);
  } catch (const Exception& error) {
    return with_context(error.error().code(), error.error().context().c_str());
  } catch (const std::system_error& error) {
    return with_context(error.code(), error.what());
  } catch (const std::bad_alloc&) {
    return Error(std::make_error_code(std::errc::not_enough_memory));
  } catch (const std::exception& error) {
    return with_context(make_error_code(ChannelErrc::handler_exception), error.what());
  } catch (...) {
    return with_context(make_error_code(ChannelErrc::handler_exception),
                        "a non-standard exception");
  }
}

}  // namespace sluice
