#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sluice/codec/byte_to_message_decoder.hpp"

namespace sluice {

// Splits a stream at any of several delimiters (the one that ends the shortest frame wins; of
// two that start at the same byte, the one listed first), into Buffers with or without the
// delimiter. Where delimiters overlap ("\r\n" and "\r"), a delimiter at the end of what has
// arrived is taken only once no other can still win over it, at the next byte or the end of
// input, so the frames do not depend on how the input is split into reads. Too-long frames are
// discarded and reported as by LineBasedFrameDecoder, and decoding resumes after the next
// delimiter. Empty delimiters are refused (std::invalid_argument).
class DelimiterBasedFrameDecoder : public ByteToMessageDecoder {
 public:
  DelimiterBasedFrameDecoder(std::size_t max_length, std::vector<std::string> delimiters,
                             bool strip_delimiter = true, bool fail_fast = true);

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  void decode_frame(HandlerContext& ctx, CompositeBuffer& in, bool input_ended);
  // Index of the first byte of `delimiter` in `in` at or after `from`, or npos.
  static std::size_t find(const CompositeBuffer& in, const std::string& delimiter,
                          std::size_t from);
  // The first index at or before `at`, where delimiters_[chosen] was found, at which a
  // delimiter that runs past the end of `in` could start and win over it; npos if there is none.
  std::size_t overtaking_start(const CompositeBuffer& in, std::size_t at, std::size_t chosen) const;
  // How many of the last bytes of `in` could begin a delimiter (none of which is in `in`).
  std::size_t partial_delimiter(const CompositeBuffer& in) const;
  // Drops the next `count` bytes of a frame over the limit: the first drop starts discarding
  // (reported now with fail_fast), later ones add to it.
  void discard(HandlerContext& ctx, CompositeBuffer& in, std::size_t count);
  void report_too_long(HandlerContext& ctx, std::size_t length);

  std::size_t max_length_;
  std::vector<std::string> delimiters_;
  bool strip_delimiter_;
  bool fail_fast_;
  bool discarding_ = false;
  std::size_t discarded_ = 0;
  std::size_t scanned_ = 0;  // a delimiter that ends within the first scanned_ bytes is not there
};

// Splits a stream into frames of exactly `length` bytes.
class FixedLengthFrameDecoder : public ByteToMessageDecoder {
 public:
  explicit FixedLengthFrameDecoder(std::size_t length);

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  std::size_t length_;
};

}  // namespace sluice
