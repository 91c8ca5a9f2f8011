#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>

#include "sluice/buffer/composite_buffer.hpp"
#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/handler_context.hpp"

namespace sluice {

// The base of decoders that turn a byte stream into messages (frames, requests).
//
// Buffers read from the channel (and CompositeBuffers, such as the frames of a decoder in front)
// join a cumulation; decode() is called while it makes progress, taking bytes from the front
// and emitting messages, which go on to the next handler at once. Other messages pass on.
// Frames are handed out as slices of the cumulation (CompositeBuffer::read_slice or
// read_buffer): nothing is copied unless a frame straddles two reads and the decoder asks for
// contiguous bytes.
//
//   kComposite (default): each read's buffer joins the cumulation as a component.
//   kMerge: reads are copied into one contiguous buffer (for decoders that scan a lot).
//
// Limits: more than max_cumulation undecoded bytes raises CodecErrc::cumulation_limit through
// on_error, drops the bytes and closes the channel. At the end of input (the channel goes
// inactive, or the peer half-closes) decode_last() gets what is left. If the decoder is taken
// out of the pipeline mid-stream, the bytes it had not decoded pass on to the next handler;
// taken out from inside decode(), once decode() returns, after the frames it emitted.
class ByteToMessageDecoder : public ChannelHandler {
 public:
  enum class Cumulation { kComposite, kMerge };
  static constexpr std::size_t kDefaultMaxCumulation = 64 * 1024 * 1024;

  explicit ByteToMessageDecoder(Cumulation mode = Cumulation::kComposite,
                                std::size_t max_cumulation = kDefaultMaxCumulation)
      : mode_(mode), max_cumulation_(max_cumulation) {}

  // The limit for a frame decoder that discards frames over `max_frame` bytes and may hold
  // `slack` more while a frame's end is incomplete (a delimiter's first bytes): the default,
  // unless that is less and would refuse frames the decoder allows.
  static constexpr std::size_t max_cumulation_for(std::size_t max_frame,
                                                  std::size_t slack = 0) noexcept {
    const std::size_t held = max_frame > std::numeric_limits<std::size_t>::max() - slack
                                 ? std::numeric_limits<std::size_t>::max()
                                 : max_frame + slack;
    return std::max(held, kDefaultMaxCumulation);
  }

  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_user_event(HandlerContext& ctx, Message&& event) override;
  void on_removed(HandlerContext& ctx) override;

  // Undecoded bytes held right now.
  std::size_t cumulated_bytes() const noexcept { return cumulation_.readable_bytes(); }

 protected:
  // Takes what it can from `in` and emits messages with ctx.fire_read(). Returning without
  // consuming anything means "need more bytes". Throwing reports the error through on_error.
  // Emit each frame as the last use of `in` in that step: a handler that closes the channel at
  // the frame ends the input from inside fire_read(), and `in` may come back emptied.
  virtual void decode(HandlerContext& ctx, CompositeBuffer& in) = 0;
  // At the end of input; by default decode() once more if bytes are left. If it (or decode())
  // throws there, the error goes to on_error, the bytes left are dropped and the end of input
  // still goes on to the next handler.
  virtual void decode_last(HandlerContext& ctx, CompositeBuffer& in);

  // For a decoder waiting on a partial frame that it will take as contiguous bytes: a frame
  // trickling in a few bytes per read keeps a component, and a read buffer, per read (and a
  // search walks them all), so once there are more than a few they are joined, with room
  // reserved ahead (up to `frame_size`, when known) so that each byte is copied O(1) times. A
  // frame across reads is copied when it is taken anyway.
  static void join_partial_frame(CompositeBuffer& in,
                                 std::size_t frame_size = static_cast<std::size_t>(-1));

  // Flow control: holds decoding back, keeping what is read in the cumulation, and stops
  // reading (auto_read off) until resume_decoding(), which decodes what was held back and
  // restores auto_read. For a decoder whose frames make the application write (requests that
  // are answered) when the channel stops being writable: a peer that sends without reading
  // what comes back then fills its own socket, not this process's memory. A half-close
  // (ChannelInputShutdown) that arrives while paused is held too, and passed on after what was
  // held back has been decoded.
  void pause_decoding(HandlerContext& ctx);
  void resume_decoding(HandlerContext& ctx);
  bool decoding_paused() const noexcept { return paused_; }
  // The input has ended and every byte of it has been decoded (or dropped by decode_last).
  bool input_finished() const noexcept { return input_finished_; }
  // Drops the undecoded bytes, outside decode() (from a timer: the frame they began will never
  // be taken).
  void drop_undecoded() noexcept { cumulation_.clear(); }
  // The undecoded bytes, for a look outside decode() (from a timer, before dropping them).
  const CompositeBuffer& undecoded() const noexcept { return cumulation_; }

 private:
  void cumulate(Buffer&& bytes);
  void decode_all(HandlerContext& ctx);
  // Runs decode() or decode_last() on the cumulation. A removal from inside it is finished when
  // it returns: what it still emits from the cumulation goes before the bytes left over.
  void run_decoder(HandlerContext& ctx,
                   void (ByteToMessageDecoder::*step)(HandlerContext&, CompositeBuffer&));
  void finish_removal(HandlerContext& ctx);
  void end_input(HandlerContext& ctx);
  void end_deferred_input(HandlerContext& ctx);
  void pass_on_leftover(HandlerContext& ctx);

  CompositeBuffer cumulation_;
  Cumulation mode_;
  std::size_t max_cumulation_;
  bool decoded_since_read_complete_ = false;
  bool input_ended_ = false;
  bool paused_ = false;
  bool paused_auto_read_ = false;  // pause_decoding() turned auto_read off
  bool end_deferred_ = false;  // the input ended while paused: decode_last and the event on resume
  bool input_finished_ = false;
  bool read_owed_ = false;     // a batch ended while paused without the read it needed
  int decoding_ = 0;           // decode() or decode_last() calls under way
  bool removal_owed_ = false;  // removed while decoding: the leftover goes on when it returns
};

}  // namespace sluice
