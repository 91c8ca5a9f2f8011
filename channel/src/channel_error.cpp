#include "sluice/channel/channel_error.hpp"

#include <cerrno>

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
    case ChannelErrc::address_refused:
      return "address refused by the connect's filter";
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

Error error_from_exception(std::exception_ptr exception) noexcept {
  return error_from_exception(exception, make_error_code(ChannelErrc::handler_exception));
}

}  // namespace sluice
