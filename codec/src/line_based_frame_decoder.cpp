#include "sluice/codec/line_based_frame_decoder.hpp"

#include <fmt/format.h>

#include "sluice/codec/codec_error.hpp"

namespace sluice {

void LineBasedFrameDecoder::report_too_long(HandlerContext& ctx, std::size_t length) {
  ctx.fire_error(
      Error(CodecErrc::too_long_frame,
            fmt::format("line of {} bytes exceeds the maximum of {}", length, max_length_)));
}

void LineBasedFrameDecoder::decode(HandlerContext& ctx, CompositeBuffer& in) {
  const std::size_t newline = in.index_of(std::byte{'\n'}, scanned_);
  if (discarding_) {
    if (newline == CompositeBuffer::npos) {
      if (!in.empty()) discarded_cr_ = in.get_u8(in.readable_bytes() - 1) == '\r';
      discarded_ += in.readable_bytes();
      in.skip(in.readable_bytes());
      return;
    }
    // The CR of a CRLF may have been discarded with the read before the LF's.
    const bool crlf = newline > 0 ? in.get_u8(newline - 1) == '\r' : discarded_cr_;
    const std::size_t length = discarded_ + newline - (crlf ? 1 : 0);
    in.skip(newline + 1);
    discarding_ = false;
    discarded_ = 0;
    scanned_ = 0;
    if (!fail_fast_) report_too_long(ctx, length);
    return;
  }
  if (newline == CompositeBuffer::npos) {
    // One byte of slack when it is a CR: a line of exactly max_length may be waiting for the
    // "\n" of its "\r\n". (Compared without max_length_ + 1, which wraps to 0 for a max_length
    // of SIZE_MAX.)
    const std::size_t readable = in.readable_bytes();
    if (readable > max_length_ && (readable - max_length_ > 1 || in.get_u8(readable - 1) != '\r')) {
      // No line ending within the limit: drop what is here and whatever follows up to the next
      // line ending.
      discarded_ = readable;
      discarded_cr_ = in.get_u8(readable - 1) == '\r';
      in.skip(readable);
      discarding_ = true;
      scanned_ = 0;
      if (fail_fast_) report_too_long(ctx, discarded_);
    } else {
      scanned_ = readable;
      join_partial_frame(in);
    }
    return;
  }
  scanned_ = 0;
  const std::size_t delimiter = newline > 0 && in.get_u8(newline - 1) == '\r' ? 2 : 1;
  const std::size_t length = newline + 1 - delimiter;
  if (length > max_length_) {
    in.skip(newline + 1);
    report_too_long(ctx, length);
    return;
  }
  if (strip_delimiter_) {
    Buffer line = in.read_buffer(length);
    in.skip(delimiter);
    ctx.fire_read(std::move(line));
  } else {
    ctx.fire_read(in.read_buffer(newline + 1));
  }
}

void LineBasedFrameDecoder::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  ByteToMessageDecoder::decode_last(ctx, in);
  if (ctx.is_removed()) return;
  if (!discarding_ && in.readable_bytes() > max_length_) {
    // The byte of slack held for the LF of a CRLF: no LF will come, so the line is too long.
    const std::size_t length = in.readable_bytes();
    in.clear();
    report_too_long(ctx, length);
    return;
  }
  if (!discarding_) return;
  // The peer stopped inside a line already over the limit: without fail_fast it has not been
  // reported yet, and no line ending will come to report it.
  const std::size_t length = discarded_;
  discarding_ = false;
  discarded_ = 0;
  if (!fail_fast_) report_too_long(ctx, length);
}

}  // namespace sluice
