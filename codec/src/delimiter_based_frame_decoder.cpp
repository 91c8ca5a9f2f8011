#include "sluice/codec/delimiter_based_frame_decoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "sluice/codec/codec_error.hpp"

namespace sluice {
namespace {

std::size_t longest_size(const std::vector<std::string>& delimiters) noexcept {
  std::size_t longest = 0;
  for (const auto& delimiter : delimiters)
    longest = std::max(longest, delimiter.size());
  return longest;
}

}  // namespace

DelimiterBasedFrameDecoder::DelimiterBasedFrameDecoder(std::size_t max_length,
                                                       std::vector<std::string> delimiters,
                                                       bool strip_delimiter, bool fail_fast)
    // A frame of max_length bytes may wait with the first bytes of a delimiter for the rest.
    : ByteToMessageDecoder(Cumulation::kComposite,
                           max_cumulation_for(max_length, longest_size(delimiters))),
      max_length_(max_length),
      delimiters_(std::move(delimiters)),
      strip_delimiter_(strip_delimiter),
      fail_fast_(fail_fast) {
  if (delimiters_.empty()) throw std::invalid_argument("at least one delimiter is needed");
  for (const auto& delimiter : delimiters_) {
    if (delimiter.empty()) throw std::invalid_argument("a delimiter cannot be empty");
  }
  if (max_length_ == 0) throw std::invalid_argument("max_length must be positive");
}

FixedLengthFrameDecoder::FixedLengthFrameDecoder(std::size_t length)
    : ByteToMessageDecoder(Cumulation::kComposite, max_cumulation_for(length)), length_(length) {
  if (length == 0) throw std::invalid_argument("frame length must be positive");
}

void FixedLengthFrameDecoder::decode(HandlerContext& ctx, CompositeBuffer& in) {
  if (in.readable_bytes() >= length_) {
    ctx.fire_read(in.read_buffer(length_));
  } else {
    join_partial_frame(in, length_);
  }
}

std::size_t DelimiterBasedFrameDecoder::find(const CompositeBuffer& in,
                                             const std::string& delimiter, std::size_t from) {
  std::string candidate(delimiter.size(), '\0');
  for (std::size_t at = in.index_of(std::byte(delimiter[0]), from); at != CompositeBuffer::npos;
       at = in.index_of(std::byte(delimiter[0]), at + 1)) {
    if (at + delimiter.size() > in.readable_bytes()) return CompositeBuffer::npos;
    in.get_bytes(at, std::as_writable_bytes(std::span(candidate)));
    if (candidate == delimiter) return at;
  }
  return CompositeBuffer::npos;
}

std::size_t DelimiterBasedFrameDecoder::overtaking_start(const CompositeBuffer& in, std::size_t at,
                                                         std::size_t chosen) const {
  const std::size_t readable = in.readable_bytes();
  std::size_t earliest = CompositeBuffer::npos;
  std::string tail;
  for (std::size_t d = 0; d < delimiters_.size(); ++d) {
    const std::string& delimiter = delimiters_[d];
    // Where `delimiter` would start to run past the end: the bytes from there on are its prefix.
    const std::size_t first = readable >= delimiter.size() ? readable - delimiter.size() + 1 : 0;
    // It would win if it started before `at`, or at `at` when listed before the chosen one.
    const std::size_t end = std::min(d < chosen ? at + 1 : at, earliest);
    for (std::size_t q = first; q < end; ++q) {
      tail.resize(readable - q);
      in.get_bytes(q, std::as_writable_bytes(std::span(tail)));
      if (delimiter.compare(0, tail.size(), tail) == 0) {
        earliest = q;
        break;
      }
    }
  }
  return earliest;
}

std::size_t DelimiterBasedFrameDecoder::partial_delimiter(const CompositeBuffer& in) const {
  const std::size_t readable = in.readable_bytes();
  std::size_t longest = 0;
  std::string tail;
  for (const auto& delimiter : delimiters_) {
    for (std::size_t k = std::min(delimiter.size() - 1, readable); k > longest; --k) {
      tail.resize(k);
      in.get_bytes(readable - k, std::as_writable_bytes(std::span(tail)));
      if (delimiter.compare(0, k, tail) == 0) {
        longest = k;
        break;
      }
    }
  }
  return longest;
}

void DelimiterBasedFrameDecoder::report_too_long(HandlerContext& ctx, std::size_t length) {
  ctx.fire_error(
      Error(CodecErrc::too_long_frame,
            fmt::format("frame of {} bytes exceeds the maximum of {}", length, max_length_)));
}

void DelimiterBasedFrameDecoder::decode(HandlerContext& ctx, CompositeBuffer& in) {
  decode_frame(ctx, in, false);
}

void DelimiterBasedFrameDecoder::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  // No more bytes will come: a delimiter at the very end is as good as any other.
  while (!in.empty() && !ctx.is_removed()) {
    const std::size_t before = in.readable_bytes();
    decode_frame(ctx, in, true);
    if (in.readable_bytes() == before) break;
  }
  if (ctx.is_removed()) return;
  if (!discarding_ && in.readable_bytes() > max_length_) {
    // Within the limit only for the bytes kept back as a possible delimiter's start, which no
    // longer can be one: the frame is too long, and was not reported with fail_fast either.
    const std::size_t length = in.readable_bytes();
    in.clear();
    report_too_long(ctx, length);
    return;
  }
  if (!discarding_) return;
  // The input ended inside a frame already over the limit (the bytes kept back as a possible
  // delimiter's start belong to it): without fail_fast no delimiter will come to report it.
  const std::size_t length = discarded_ + in.readable_bytes();
  in.clear();
  discarding_ = false;
  discarded_ = 0;
  if (!fail_fast_) report_too_long(ctx, length);
}

void DelimiterBasedFrameDecoder::decode_frame(HandlerContext& ctx, CompositeBuffer& in,
                                              bool input_ended) {
  std::size_t frame_length = CompositeBuffer::npos;
  std::size_t delimiter_length = 0;
  std::size_t chosen = 0;
  for (std::size_t d = 0; d < delimiters_.size(); ++d) {
    // Where it could start and not have been looked for: it may end in bytes new since then.
    const std::size_t size = delimiters_[d].size();
    const std::size_t at = find(in, delimiters_[d], scanned_ >= size ? scanned_ - size + 1 : 0);
    if (at < frame_length) {
      frame_length = at;
      delimiter_length = delimiters_[d].size();
      chosen = d;
    }
  }
  // A delimiter near the end may yet lose to one whose rest has not arrived (an earlier start,
  // or the same start and listed first): taking it now would make the frames depend on how the
  // input was split into reads.
  if (frame_length != CompositeBuffer::npos && !input_ended) {
    const std::size_t overtaker = overtaking_start(in, frame_length, chosen);
    if (overtaker != CompositeBuffer::npos) {
      // Whichever wins, the frame ends no sooner than `overtaker`: when that is already over the
      // limit, the bytes before it go now (and fail_fast reports now), as when no delimiter has
      // come; the rest waits for the byte that decides.
      if (overtaker > 0 && (discarding_ || overtaker > max_length_)) {
        scanned_ = 0;
        discard(ctx, in, overtaker);
      }
      return;
    }
  }
  if (frame_length != CompositeBuffer::npos) {
    scanned_ = 0;
    if (discarding_) {
      // The end of a frame that was too long: drop it, report, and carry on after it.
      const std::size_t length = discarded_ + frame_length;
      in.skip(frame_length + delimiter_length);
      discarding_ = false;
      discarded_ = 0;
      if (!fail_fast_) report_too_long(ctx, length);
      return;
    }
    if (frame_length > max_length_) {
      in.skip(frame_length + delimiter_length);
      report_too_long(ctx, frame_length);
      return;
    }
    if (strip_delimiter_) {
      Buffer frame = in.read_buffer(frame_length);
      in.skip(delimiter_length);
      ctx.fire_read(std::move(frame));
    } else {
      ctx.fire_read(in.read_buffer(frame_length + delimiter_length));
    }
    return;
  }
  // The last bytes may be the start of a delimiter whose rest is still to come: they stay, or a
  // frame of max_length would be taken for too long, and a too-long frame's delimiter split
  // across reads would be missed (and the next frame swallowed with it). Only bytes that do
  // start one stay, so that fail_fast reports a frame as soon as it is over the limit.
  const std::size_t partial = partial_delimiter(in);
  const std::size_t before_partial =
      in.readable_bytes() > partial ? in.readable_bytes() - partial : 0;
  // (Compared without max_length_ + partial, which wraps for a max_length near SIZE_MAX.)
  if (discarding_ || before_partial > max_length_) {
    scanned_ = in.readable_bytes() - before_partial;
    discard(ctx, in, before_partial);
    return;
  }
  scanned_ = in.readable_bytes();
  join_partial_frame(in);
}

void DelimiterBasedFrameDecoder::discard(HandlerContext& ctx, CompositeBuffer& in,
                                         std::size_t count) {
  in.skip(count);
  if (discarding_) {
    discarded_ += count;
    return;
  }
  discarded_ = count;
  discarding_ = true;
  if (fail_fast_) report_too_long(ctx, discarded_);
}

}  // namespace sluice
