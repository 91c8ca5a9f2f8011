#include "sluice/codec/codec_error.hpp"

namespace sluice {

const char* describe(CodecErrc value) noexcept {
  switch (value) {
    case CodecErrc::too_long_frame:
      return "frame too long";
    case CodecErrc::corrupted_frame:
      return "corrupted frame";
    case CodecErrc::cumulation_limit:
      return "too many undecoded bytes";
    case CodecErrc::body_length_mismatch:
      return "body length differs from the announced length";
    case CodecErrc::invalid_protocol_switch:
      return "switch of protocols or tunnel not asked for, or not as asked";
    case CodecErrc::unsolicited_response:
      return "response that answers no request";
  }
  return "unknown codec error";
}

const std::error_category& codec_category() noexcept {
  static const detail::EnumCategory<CodecErrc> category("sluice.codec");
  return category;
}

}  // namespace sluice
