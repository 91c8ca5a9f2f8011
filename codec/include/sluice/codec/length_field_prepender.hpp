#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "sluice/channel/channel_handler.hpp"

namespace sluice {

// Writes a length field in front of each outbound Buffer or CompositeBuffer. The header is a
// small buffer of its own, written just before the payload, which passes through untouched:
// the transport sends both with one gathered write, and the payload is never copied.
//
// A payload whose length (plus adjustment, plus the field itself when includes_length_field)
// does not fit the field, or is negative, fails the write with CodecErrc::corrupted_frame.
class LengthFieldPrepender final : public ChannelHandler {
 public:
  // `field_length` is 1, 2, 3, 4 or 8 (std::invalid_argument otherwise).
  explicit LengthFieldPrepender(std::size_t field_length, std::int64_t length_adjustment = 0,
                                bool includes_length_field = false,
                                std::endian byte_order = std::endian::big);

  void write(HandlerContext& ctx, Message&& message, WriteCallback&& done) override;

 private:
  std::size_t field_length_;
  std::int64_t adjustment_;
  bool includes_length_field_;
  std::endian byte_order_;
};

}  // namespace sluice
