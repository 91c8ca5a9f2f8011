#pragma once

#include <exception>
#include <string>
#include <system_error>

#include "sluice/core/core_error.hpp"
#include "sluice/core/error.hpp"

namespace sluice {

enum class ChannelErrc {
  closed = 1,           // the channel closed before the operation could complete
  output_shutdown,      // written after shutdown_output()
  unsupported_message,  // a message type the transport cannot write reached the head
  file_truncated,       // a file ended before its FileRegion did
  handler_exception,    // a handler threw something that is not a sluice::Exception
  pipeline_misuse,      // an unknown or duplicate handler name
  connect_timeout,      // the connect did not complete within its timeout
  address_refused,      // the connect's address filter refused the address
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::ChannelErrc> : std::true_type {};

namespace sluice {

const char* describe(ChannelErrc value) noexcept;
const std::error_category& channel_category() noexcept;
inline std::error_code make_error_code(ChannelErrc value) noexcept {
  return {static_cast<int>(value), channel_category()};
}

// True for the errors by which a connection ends from the far side or the network rather than
// by a fault of this process: reset or aborted by the peer, a broken pipe, a socket no longer
// connected, a keep-alive or retransmission timeout, an unreachable host or network. A server
// sees them whenever a client goes away abruptly, so they are routine: the pipeline's tail logs
// them at debug level, where any other error it closes a channel for is a warning (a client
// that resets its connections at line rate must not be able to fill the log).
bool is_connection_lost(const Error& error) noexcept;

// Pipeline misuse (unknown or duplicate handler names) throws this.
class PipelineError : public Exception {
 public:
  explicit PipelineError(std::string what)
      : Exception(Error(ChannelErrc::pipeline_misuse, std::move(what))) {}
};

// The Error a handler's exception becomes on its way to on_error: as the core's
// error_from_exception, with ChannelErrc::handler_exception for exceptions that carry no code.
Error error_from_exception(std::exception_ptr exception) noexcept;

}  // namespace sluice
