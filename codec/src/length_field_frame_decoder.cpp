#include "sluice/codec/length_field_frame_decoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <limits>
#include <stdexcept>

#include "sluice/channel/channel.hpp"
#include "sluice/codec/codec_error.hpp"
#include "wide_int.hpp"

namespace sluice {

// What stays undecoded is at most one partial frame, never longer than max_frame_length: the
// base's default limit would refuse the frames between the two as they arrive.
LengthFieldBasedFrameDecoder::LengthFieldBasedFrameDecoder(const LengthFieldFrameOptions& options)
    : ByteToMessageDecoder(Cumulation::kComposite, max_cumulation_for(options.max_frame_length)),
      options_(options),
      header_end_(options.length_field_offset + options.length_field_length) {
  switch (options.length_field_length) {
    case 1:
    case 2:
    case 3:
    case 4:
    case 8:
      break;
    default:
      throw std::invalid_argument(fmt::format("length_field_length must be 1, 2, 3, 4 or 8, not {}",
                                              options.length_field_length));
  }
  if (options.length_field_offset >
      std::numeric_limits<std::size_t>::max() - options.length_field_length) {
    throw std::invalid_argument(
        fmt::format("length_field_offset {} overflows", options.length_field_offset));
  }
  if (options.max_frame_length == 0)
    throw std::invalid_argument("max_frame_length must be positive");
  if (header_end_ > options.max_frame_length) {
    throw std::invalid_argument(fmt::format("the length field ends at {}, past max_frame_length {}",
                                            header_end_, options.max_frame_length));
  }
}

std::uint64_t LengthFieldBasedFrameDecoder::read_length_field(const CompositeBuffer& in) const {
  const std::size_t at = options_.length_field_offset;
  const bool big = options_.byte_order == std::endian::big;
  switch (options_.length_field_length) {
    case 1:
      return in.get_u8(at);
    case 2:
      return in.get<std::uint16_t>(at, options_.byte_order);
    case 3: {
      std::array<std::byte, 3> bytes;
      in.get_bytes(at, bytes);
      const auto b0 = std::to_integer<std::uint32_t>(bytes[0]);
      const auto b1 = std::to_integer<std::uint32_t>(bytes[1]);
      const auto b2 = std::to_integer<std::uint32_t>(bytes[2]);
      return big ? (b0 << 16) | (b1 << 8) | b2 : (b2 << 16) | (b1 << 8) | b0;
    }
    case 4:
      return in.get<std::uint32_t>(at, options_.byte_order);
    default:
      return in.get<std::uint64_t>(at, options_.byte_order);
  }
}

void LengthFieldBasedFrameDecoder::give_up(HandlerContext& ctx, CompositeBuffer& in,
                                           const Error& error) {
  failed_ = true;
  in.clear();
  ctx.fire_error(error);
  ctx.close();
}

Error LengthFieldBasedFrameDecoder::too_long_error() const {
  return Error(CodecErrc::too_long_frame, fmt::format("frame of {} bytes exceeds the maximum of {}",
                                                      too_long_length_, options_.max_frame_length));
}

void LengthFieldBasedFrameDecoder::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  ByteToMessageDecoder::decode_last(ctx, in);
  // The peer stopped inside a frame already over the limit: without fail_fast it has not been
  // reported yet, and the rest of its bytes will not come to report it.
  if (discarding_ && !failed_ && !ctx.is_removed()) {
    discarding_ = false;
    give_up(ctx, in, too_long_error());
  }
}

void LengthFieldBasedFrameDecoder::on_removed(HandlerContext& ctx) {
  // Without fail_fast, a too-long frame is reported once its end is seen, which a decoder taken
  // out now never will: the rest of it would reach the handlers after it as the stream. (A
  // closed channel, being torn down, has no stream left to protect.)
  if (discarding_ && !failed_ && ctx.channel().is_open()) {
    discarding_ = false;
    failed_ = true;
    ctx.fire_error(too_long_error());
    ctx.close();
  }
  ByteToMessageDecoder::on_removed(ctx);
}

void LengthFieldBasedFrameDecoder::decode(HandlerContext& ctx, CompositeBuffer& in) {
  if (failed_) {
    in.clear();  // the channel is closing: what follows a bad frame has no meaning
    return;
  }
  if (discarding_) {
    const auto here =
        static_cast<std::size_t>(std::min<std::uint64_t>(bytes_to_discard_, in.readable_bytes()));
    in.skip(here);
    bytes_to_discard_ -= here;
    if (bytes_to_discard_ == 0) {
      discarding_ = false;
      if (!options_.fail_fast) give_up(ctx, in, too_long_error());
    }
    return;
  }
  if (in.readable_bytes() < header_end_) return;

  // The adjusted length in 128 bits: no field value or adjustment can overflow it.
  const std::uint64_t field = read_length_field(in);
  const detail::WideInt frame = static_cast<detail::WideInt>(field) + options_.length_adjustment +
                                static_cast<detail::WideInt>(header_end_);
  if (frame < static_cast<detail::WideInt>(header_end_)) {
    give_up(ctx, in,
            Error(CodecErrc::corrupted_frame,
                  fmt::format("length field {} adjusted by {} is shorter than the {} "
                              "header bytes",
                              field, options_.length_adjustment, header_end_)));
    return;
  }
  // A length past INT64_MAX (a negative 8-byte field to Netty, which reads it signed) is a
  // corrupted field, not a long frame: without fail_fast the decoder would discard for ever.
  if (frame > static_cast<detail::WideInt>(INT64_MAX)) {
    give_up(
        ctx, in,
        Error(CodecErrc::corrupted_frame, fmt::format("length field {} adjusted by {} overflows",
                                                      field, options_.length_adjustment)));
    return;
  }
  if (frame > static_cast<detail::WideInt>(options_.max_frame_length)) {
    const auto length = static_cast<std::uint64_t>(
        std::min<detail::WideInt>(frame, static_cast<detail::WideInt>(UINT64_MAX)));
    const std::size_t available = in.readable_bytes();
    too_long_length_ = length;
    if (length <= available) {
      give_up(ctx, in, too_long_error());
      return;
    }
    in.clear();
    discarding_ = true;
    bytes_to_discard_ = length - available;
    if (options_.fail_fast) give_up(ctx, in, too_long_error());
    return;
  }
  const auto frame_length = static_cast<std::size_t>(frame);
  if (frame_length < options_.initial_bytes_to_strip) {
    give_up(ctx, in,
            Error(CodecErrc::corrupted_frame,
                  fmt::format("frame of {} bytes is shorter than the {} bytes to strip",
                              frame_length, options_.initial_bytes_to_strip)));
    return;
  }
  if (in.readable_bytes() < frame_length) {
    // Composite frames are never copied (contiguous_frames off): their reads stay as they are.
    if (options_.contiguous_frames) join_partial_frame(in, frame_length);
    return;
  }
  in.skip(options_.initial_bytes_to_strip);
  const std::size_t payload = frame_length - options_.initial_bytes_to_strip;
  if (options_.contiguous_frames) {
    ctx.fire_read(in.read_buffer(payload));
  } else {
    ctx.fire_read(in.read_slice(payload));
  }
}

}  // namespace sluice
