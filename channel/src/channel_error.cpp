#include "sluice/channel/channel_error.hpp"

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

Error error_from_exception(std::exception_ptr exception) {
  try {
    std::rethrow_exception(exception);
  } catch (const Exception& error) {
    return error.error();
  } catch (const std::system_error& error) {
    return Error(error.code(), error.what());
  } catch (const std::exception& error) {
    return Error(ChannelErrc::handler_exception, error.what());
  } catch (...) {
    return Error(ChannelErrc::handler_exception, "a non-standard exception");
  }
}

}  // namespace sluice
