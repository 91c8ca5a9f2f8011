#pragma once

#include <string>
#include <system_error>

#include "sluice/core/error.hpp"

namespace sluice {

enum class CodecErrc {
  too_long_frame = 1,  // a frame over the decoder's maximum; its bytes were discarded
  corrupted_frame,  // a length field that is negative, overflows, or is shorter than what it strips
  cumulation_limit,      // more undecoded bytes than the decoder may hold
  body_length_mismatch,  // a message body longer or shorter than the length its head announced
  // a switch of protocols no request asked for: a 101 that answers no upgrade request, names no
  // protocol or one the request did not offer; or a 2xx that opens a CONNECT tunnel with content
  // or a close, which the tunnel's bytes would follow
  invalid_protocol_switch,
  // a final response written when no request awaits an answer: a pipelining client would take
  // it for the answer to its next request
  unsolicited_response,
};

}  // namespace sluice

template <>
struct std::is_error_code_enum<sluice::CodecErrc> : std::true_type {};

namespace sluice {

const char* describe(CodecErrc value) noexcept;
const std::error_category& codec_category() noexcept;
inline std::error_code make_error_code(CodecErrc value) noexcept {
  return {static_cast<int>(value), codec_category()};
}

// A decoder's failure. Thrown from decode(), it reaches the decoder's on_error like any
// handler exception.
class CodecError : public Exception {
 public:
  CodecError(CodecErrc code, std::string what) : Exception(Error(code, std::move(what))) {}
};

class TooLongFrameError : public CodecError {
 public:
  explicit TooLongFrameError(std::string what)
      : CodecError(CodecErrc::too_long_frame, std::move(what)) {}
};

class CorruptedFrameError : public CodecError {
 public:
  explicit CorruptedFrameError(std::string what)
      : CodecError(CodecErrc::corrupted_frame, std::move(what)) {}
};

}  // namespace sluice
