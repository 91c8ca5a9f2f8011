#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

#include "sluice/codec/byte_to_message_decoder.hpp"

namespace sluice {

// Where a frame's length field sits and how to read it. The frame length is
//   field value + length_adjustment + length_field_offset + length_field_length
// bytes from the start of the frame; initial_bytes_to_strip bytes are dropped from its front.
//
//   offset 0, length 2, strip 2:   [00 05 | h e l l o]  ->  "hello"
//   offset 1, length 2, adjust 1:  [T | 00 05 | V | h e l l o]  ->  whole 9-byte frame
struct LengthFieldFrameOptions {
  std::size_t max_frame_length = 1024 * 1024;
  std::size_t length_field_offset = 0;
  std::size_t length_field_length = 4;  // 1, 2, 3, 4 or 8 bytes
  std::int64_t length_adjustment = 0;
  std::size_t initial_bytes_to_strip = 0;
  std::endian byte_order = std::endian::big;
  // true: report a too-long frame as soon as its length field is read; false: once its bytes
  // have all been discarded, or the input ends before they have.
  bool fail_fast = true;
  // true: frames are Buffers (copied only when they straddle reads); false: CompositeBuffers,
  // never copied.
  bool contiguous_frames = true;
};

// Splits a stream into frames by a length field in each frame's header.
//
// A frame longer than max_frame_length is never buffered: its bytes are discarded as they
// arrive, an Error with CodecErrc::too_long_frame is fired to the handlers after it (on_error;
// nothing is thrown), and the channel is closed, since a stream with one bad length has no
// reliable frame boundary after it. A length that is negative after adjustment, overflows, or
// is shorter than the header and the stripped bytes is CodecErrc::corrupted_frame, with the
// same outcome. Construction throws
// std::invalid_argument for an impossible configuration.
class LengthFieldBasedFrameDecoder : public ByteToMessageDecoder {
 public:
  explicit LengthFieldBasedFrameDecoder(const LengthFieldFrameOptions& options);

  void on_removed(HandlerContext& ctx) override;

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  std::uint64_t read_length_field(const CompositeBuffer& in) const;
  void give_up(HandlerContext& ctx, CompositeBuffer& in, const Error& error);
  Error too_long_error() const;

  LengthFieldFrameOptions options_;
  std::size_t header_end_;
  bool discarding_ = false;
  bool failed_ = false;
  std::uint64_t bytes_to_discard_ = 0;
  std::uint64_t too_long_length_ = 0;
};

}  // namespace sluice
