#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "sluice/codec/byte_to_message_decoder.hpp"

namespace sluice {

// Splits a stream at any of several delimiters (the one that ends the shortest frame wins),
// into Buffers with or without the delimiter. Too-long frames are discarded and reported as by
// LineBasedFrameDecoder, and decoding resumes after the next delimiter. Empty delimiters are
// refused (std::invalid_argument).
class DelimiterBasedFrameDecoder : public ByteToMessageDecoder {
 public:
  DelimiterBasedFrameDecoder(std::size_t max_length, std::vector<std::string> delimiters,
                             bool strip_delimiter = true, bool fail_fast = true);

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  // Index of the first byte of `delimiter` in `in`, or npos.
  static std::size_t find(const CompositeBuffer& in, const std::string& delimiter);
  void report_too_long(HandlerContext& ctx, std::size_t length);

  std::size_t max_length_;
  std::vector<std::string> delimiters_;
  bool strip_delimiter_;
  bool fail_fast_;
  bool discarding_ = false;
  std::size_t discarded_ = 0;
};

// Splits a stream into frames of exactly `length` bytes.
class FixedLengthFrameDecoder : public ByteToMessageDecoder {
 public:
  explicit FixedLengthFrameDecoder(std::size_t length);

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override {
    if (in.readable_bytes() >= length_) ctx.fire_read(in.read_buffer(length_));
  }

 private:
  std::size_t length_;
};

}  // namespace sluice
