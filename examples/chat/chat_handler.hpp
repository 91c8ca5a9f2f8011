#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/channel.hpp"
#include "sluice/channel/channel_group.hpp"
#include "sluice/channel/inbound_handler_for.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/idle_state_handler.hpp"

namespace sluice::examples {

// The members of one chat room, on whichever loops their connections live.
struct ChatRoom {
  ChannelGroup members{"chat room"};
};

// A member of a line-based chat room, after a LineBasedFrameDecoder that strips the line ends
// (and, for the idle timeout, an IdleStateHandler): each line goes to every other member as
// "#<id>: <line>\n", and joins and departures are announced. The line is copied once, into the
// announcement's buffer, which every member's write then shares.
//
// A member that cannot take what is sent to it (its output over the high water mark) is a slow
// consumer: it is dropped rather than let the server's memory grow for it, or hold the others
// back. A line over the decoder's limit is refused with a message (none while the member's
// output is over the high water mark), and the connection goes on.
// A member idle for the IdleStateHandler's period, or one that half-closes, is closed.
class ChatHandler final : public InboundHandlerFor<Buffer> {
 public:
  explicit ChatHandler(std::shared_ptr<ChatRoom> room) : room_(std::move(room)) {}

  void on_active(HandlerContext& ctx) override {
    name_ = "#" + std::to_string(ctx.channel().id());
    const std::size_t others = room_->members.size();
    // The welcome before joining, so that no line of another member reaches it ahead of the
    // welcome; the announcement after, so that whoever hears it can already talk to it.
    ctx.write_and_flush(line("welcome, you are " + name_ + "; " + std::to_string(others) +
                             (others == 1 ? " other is here" : " others are here")));
    room_->members.add(ChannelPtr(&ctx.channel()));
    room_->members.write_and_flush(line(name_ + " joined"),
                                   ChannelMatcher::all_except(ctx.channel()));
    ctx.fire_active();
  }

  void on_inactive(HandlerContext& ctx) override {
    // The member is still in the room until its close completes: it is left out by name.
    room_->members.write_and_flush(line(name_ + " left"),
                                   ChannelMatcher::all_except(ctx.channel()));
    ctx.fire_inactive();
  }

  void on_user_event(HandlerContext& ctx, Message&& event) override {
    if (event.is<IdleStateEvent>()) {
      // Said once; a member still idle a period later has not even read that: closed at once.
      // Remembered here, not taken from the event's `first`: the notice is a write, which ends
      // the idle stretch, so the next event is a first again, and a member whose output never
      // drains was told each period and never closed.
      if (!told_idle_) {
        told_idle_ = true;
        ctx.write_and_flush(line("closing: idle for too long"));
        ctx.close(CloseMode::kWhenFlushed);
      } else {
        ctx.close();
      }
      return;
    }
    if (event.is<ChannelInputShutdown>()) {
      ctx.close(CloseMode::kWhenFlushed);  // a member that stops talking has left
      return;
    }
    ctx.fire_user_event(std::move(event));
  }

  void on_error(HandlerContext& ctx, const Error& error) override {
    if (error == CodecErrc::too_long_frame) {
      // A member over the high water mark is not reading: a refusal for each long line it
      // sends would pile up in the server's memory for as long as it keeps sending them.
      if (ctx.channel().is_writable()) {
        ctx.write_and_flush(line("that line was too long and was not sent"));
      }
      return;
    }
    ctx.fire_error(error);  // the tail logs it; the transport closes on socket errors
  }

 protected:
  void on_message(HandlerContext& ctx, Buffer&& text) override {
    if (text.readable_bytes() == 0) return;
    drop_slow_consumers(ctx.channel());
    Buffer said = Buffer::allocate(name_.size() + 2 + text.readable_bytes() + 1);
    said.write_bytes(name_);
    said.write_bytes(std::string_view(": "));
    said.write_bytes(text.readable_span());
    said.write_bytes(std::string_view("\n"));
    room_->members.write_and_flush(said, ChannelMatcher::all_except(ctx.channel()));
  }

 private:
  static Buffer line(const std::string& text) { return Buffer::copy_of(text + "\n"); }

  // The one that removes a member closes it: two senders on two loops may find it at once.
  void drop_slow_consumers(const Channel& sender) {
    room_->members.for_each([&](Channel& member) {
      if (&member != &sender && !member.is_writable() && room_->members.remove(member)) {
        member.close();
      }
    });
  }

  std::shared_ptr<ChatRoom> room_;
  std::string name_;  // "#7"
  bool told_idle_ = false;
};

}  // namespace sluice::examples
