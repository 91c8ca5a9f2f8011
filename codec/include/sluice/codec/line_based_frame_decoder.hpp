#pragma once

#include <cstddef>

#include "sluice/codec/byte_to_message_decoder.hpp"

namespace sluice {

// Splits a stream at "\n" or "\r\n" into Buffers, with or without the line ending.
//
// A line longer than max_length is discarded as its bytes arrive (they are never buffered past
// the limit), an Error with CodecErrc::too_long_frame is fired to the handlers after it
// (on_error; nothing is thrown), and decoding resumes after the next line ending. fail_fast reports
// as soon as the limit is crossed; otherwise when the end of the long line is found, or the input
// ends before it.
class LineBasedFrameDecoder : public ByteToMessageDecoder {
 public:
  explicit LineBasedFrameDecoder(std::size_t max_length, bool strip_delimiter = true,
                                 bool fail_fast = false)
      // A line of max_length bytes may wait with its "\r" for the "\n".
      : ByteToMessageDecoder(Cumulation::kComposite, max_cumulation_for(max_length, 1)),
        max_length_(max_length),
        strip_delimiter_(strip_delimiter),
        fail_fast_(fail_fast) {}

 protected:
  void decode(HandlerContext& ctx, CompositeBuffer& in) override;
  void decode_last(HandlerContext& ctx, CompositeBuffer& in) override;

 private:
  void report_too_long(HandlerContext& ctx, std::size_t length);

  std::size_t max_length_;
  bool strip_delimiter_;
  bool fail_fast_;
  bool discarding_ = false;
  std::size_t discarded_ = 0;
  bool discarded_cr_ = false;  // the last byte discarded was a CR
  std::size_t scanned_ = 0;    // bytes already searched for "\n" without finding one
};

}  // namespace sluice
