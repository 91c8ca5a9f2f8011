#include "sluice/codec/byte_to_message_decoder.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"

namespace sluice {

void ByteToMessageDecoder::on_read(HandlerContext& ctx, Message&& message) {
  if (Buffer* bytes = message.get_if<Buffer>()) {
    if (input_ended_) return;
    cumulate(std::move(*bytes));
  } else if (CompositeBuffer* composite = message.get_if<CompositeBuffer>()) {
    // Bytes too (a frame of a decoder in front that hands out composites), taken without a copy.
    if (input_ended_) return;
    if (mode_ == Cumulation::kComposite) {
      cumulation_.append(std::move(*composite));
    } else {
      while (!composite->empty())
        cumulate(composite->read_buffer(composite->component(0).readable_bytes()));
    }
  } else {
    ctx.fire_read(std::move(message));
    return;
  }
  try {
    decode_all(ctx);
  } catch (...) {
    // A decoder that throws keeps the bytes it did not consume; the limit must still hold, or a
    // decoder stuck on bad bytes would pile every later read up behind them.
    if (ctx.is_removed() || cumulation_.readable_bytes() <= max_cumulation_) throw;
    on_error(ctx, error_from_exception(std::current_exception()));
  }
  // The limit is on what stays undecoded: whole frames in a large read are not refused.
  if (!ctx.is_removed() && cumulation_.readable_bytes() > max_cumulation_) {
    const Error error(CodecErrc::cumulation_limit,
                      fmt::format("{} undecoded bytes exceed the limit of {}",
                                  cumulation_.readable_bytes(), max_cumulation_));
    cumulation_.clear();
    input_ended_ = true;
    ctx.fire_error(error);
    ctx.close();
  }
}

void ByteToMessageDecoder::cumulate(Buffer&& bytes) {
  if (mode_ == Cumulation::kMerge && !cumulation_.empty()) {
    Buffer merged = cumulation_.coalesce();
    // A slice (a frame from a decoder in front, a leftover passed on) or a mapping cannot grow
    // past its length: like Netty's MERGE_CUMULATOR, which expands a cumulation whose max
    // capacity is too small, copy it rather than write into it.
    const bool cannot_grow =
        merged.max_capacity() - merged.readable_bytes() < bytes.readable_bytes();
    if (merged.is_shared() || merged.is_external() || cannot_grow) {
      // Another handle holds this storage (the sender, or a frame still in use): never write
      // into it, as Netty's MERGE_CUMULATOR copies a cumulation with refCnt > 1.
      Buffer copy = Buffer::allocate(merged.readable_bytes() + bytes.readable_bytes());
      copy.write_bytes(merged.readable_span());
      merged = std::move(copy);
    } else {
      // Drop what was decoded, or a partial frame that never empties the cumulation would
      // carry every byte ever read along as the buffer grows.
      merged.discard_read_bytes();
    }
    merged.write_bytes(bytes.readable_span());
    cumulation_.append(std::move(merged));
  } else {
    cumulation_.append(std::move(bytes));
  }
}

void ByteToMessageDecoder::join_partial_frame(CompositeBuffer& in, std::size_t frame_size) {
  constexpr std::size_t kMaxPartialComponents = 16;
  if (in.component_count() > kMaxPartialComponents) {
    in.make_contiguous(std::min(frame_size, 2 * in.readable_bytes()));
  }
}

void ByteToMessageDecoder::decode_all(HandlerContext& ctx) {
  while (!cumulation_.empty() && !paused_ && !ctx.is_removed()) {
    const std::size_t before = cumulation_.readable_bytes();
    const std::uint64_t fired = ctx.reads_fired();
    run_decoder(ctx, &ByteToMessageDecoder::decode);
    // Only a message counts: bytes consumed without one (skipped, or a too-long frame being
    // discarded) still leave the batch wanting more, which auto_read off must ask for.
    if (ctx.reads_fired() != fired) decoded_since_read_complete_ = true;
    if (ctx.is_removed()) return;
    if (cumulation_.readable_bytes() == before) return;  // needs more bytes
  }
}

void ByteToMessageDecoder::run_decoder(HandlerContext& ctx,
                                       void (ByteToMessageDecoder::*step)(HandlerContext&,
                                                                          CompositeBuffer&)) {
  ++decoding_;
  try {
    (this->*step)(ctx, cumulation_);
  } catch (...) {
    --decoding_;
    if (decoding_ == 0 && std::exchange(removal_owed_, false)) finish_removal(ctx);
    throw;
  }
  --decoding_;
  if (decoding_ == 0 && std::exchange(removal_owed_, false)) finish_removal(ctx);
}

void ByteToMessageDecoder::on_read_complete(HandlerContext& ctx) {
  // With auto-read off, a batch that completed no frame must ask for more, or the channel
  // would wait forever for bytes it never requests.
  if (!decoded_since_read_complete_ && !input_ended_ && !ctx.channel().auto_read()) {
    // While paused the request waits for resume_decoding(), which decodes the batch first.
    if (paused_) {
      read_owed_ = true;
    } else {
      ctx.read();
    }
  }
  decoded_since_read_complete_ = false;
  ctx.fire_read_complete();
}

void ByteToMessageDecoder::decode_last(HandlerContext& ctx, CompositeBuffer& in) {
  if (!in.empty()) decode(ctx, in);
}

void ByteToMessageDecoder::on_inactive(HandlerContext& ctx) {
  if (!input_ended_) {
    input_ended_ = true;
    // The channel is gone: what was held back has no one left to answer.
    paused_ = false;
    end_input(ctx);
  } else if (end_deferred_) {
    // The input ended while paused and no resume came: the end of input is still owed.
    paused_ = false;
    end_deferred_input(ctx);
  }
  ctx.fire_inactive();
}

void ByteToMessageDecoder::on_user_event(HandlerContext& ctx, Message&& event) {
  if (event.is<ChannelInputShutdown>() && !input_ended_) {
    input_ended_ = true;
    // The peer's last requests are still owed their answers: they are decoded on resume, and
    // the event waits for them. Passed on now, it would tell the handlers after this one that
    // the input had ended before the messages held back reached them.
    if (paused_) {
      end_deferred_ = true;
      return;
    }
    end_input(ctx);
  }
  ctx.fire_user_event(std::move(event));
}

void ByteToMessageDecoder::end_deferred_input(HandlerContext& ctx) {
  end_deferred_ = false;
  end_input(ctx);
  // Also when a handler took the decoder out at one of those last frames: the handlers after it
  // are still owed the end of input (an event fired from a removed context goes on).
  ctx.fire_user_event(ChannelInputShutdown{});
}

void ByteToMessageDecoder::end_input(HandlerContext& ctx) {
  try {
    decode_all(ctx);
    if (!ctx.is_removed()) run_decoder(ctx, &ByteToMessageDecoder::decode_last);
  } catch (...) {
    // A decoder that fails on the last bytes (a truncated frame) must neither keep them nor stop
    // the end of input (on_inactive, the half-close event) from reaching the handlers after it.
    on_error(ctx, error_from_exception(std::current_exception()));
  }
  // Taken out of the pipeline meanwhile inside a decode() still under way (the end of input came
  // from a handler that closed the channel at one of its frames): the bytes left go on when that
  // decode() returns.
  if (!removal_owed_) cumulation_.clear();
  input_finished_ = true;
}

void ByteToMessageDecoder::pause_decoding(HandlerContext& ctx) {
  if (paused_) return;
  paused_ = true;
  if (ctx.channel().auto_read()) {
    ctx.channel().set_auto_read(false);
    paused_auto_read_ = true;
  }
}

void ByteToMessageDecoder::resume_decoding(HandlerContext& ctx) {
  if (!paused_) return;
  paused_ = false;
  if (paused_auto_read_) {
    paused_auto_read_ = false;
    ctx.channel().set_auto_read(true);
  }
  try {
    decode_all(ctx);
  } catch (...) {
    // As from on_read: the error is the pipeline's, not that of whoever resumed (a timer, a
    // write callback), and the bytes decode() did not take stay.
    on_error(ctx, error_from_exception(std::current_exception()));
  }
  if (ctx.is_removed()) return;
  if (end_deferred_ && !paused_) end_deferred_input(ctx);
  // What was decoded here came out of no read batch: end it as one, so that handlers that
  // flush once per batch send the answers. (Not if a frame closed the channel: nothing comes
  // after on_inactive.)
  const bool decoded = decoded_since_read_complete_;
  if (decoded && ctx.channel().is_open()) {
    decoded_since_read_complete_ = false;
    ctx.fire_read_complete();
  }
  // A batch held back while paused completed no frame: ask for the bytes it still needs, as
  // on_read_complete would have (with auto_read off nothing else will).
  if (std::exchange(read_owed_, false) && !decoded && !input_ended_ && !paused_ &&
      !ctx.is_removed() && !ctx.channel().auto_read()) {
    ctx.read();
  }
}

void ByteToMessageDecoder::on_removed(HandlerContext& ctx) {
  // Reading must not stay paused by a decoder that is gone (an upgrade taken mid-pause).
  if (paused_auto_read_) {
    paused_auto_read_ = false;
    ctx.channel().set_auto_read(true);
  }
  paused_ = false;
  // Taken out from inside decode() (by itself, or by a handler one of its frames reached): the
  // decoder may still be taking bytes from the cumulation, and what it emits from them comes
  // before the rest. Passed on now, the rest would overtake those frames and leave decode() an
  // empty cumulation.
  if (decoding_ > 0) {
    removal_owed_ = true;
    return;
  }
  finish_removal(ctx);
}

void ByteToMessageDecoder::finish_removal(HandlerContext& ctx) {
  pass_on_leftover(ctx);
  // The half-close it held back goes on after the bytes, for the handlers after it to decode.
  if (std::exchange(end_deferred_, false)) ctx.fire_user_event(ChannelInputShutdown{});
}

void ByteToMessageDecoder::pass_on_leftover(HandlerContext& ctx) {
  if (cumulation_.empty()) return;
  Buffer leftover = cumulation_.coalesce();
  ctx.fire_read(std::move(leftover));
  ctx.fire_read_complete();
}

}  // namespace sluice
