#include "sluice/codec/idle_state_handler.hpp"

#include <algorithm>

#include "sluice/channel/channel.hpp"

namespace sluice {

IdleStateHandler::IdleStateHandler(std::chrono::milliseconds reader_idle,
                                   std::chrono::milliseconds writer_idle,
                                   std::chrono::milliseconds all_idle, OutputProgress output)
    : checks_{{IdleState::kReaderIdle,
               static_cast<std::uint64_t>(std::max<std::int64_t>(0, reader_idle.count())),
               {}},
              {IdleState::kWriterIdle,
               static_cast<std::uint64_t>(std::max<std::int64_t>(0, writer_idle.count())),
               {}},
              {IdleState::kAllIdle,
               static_cast<std::uint64_t>(std::max<std::int64_t>(0, all_idle.count())),
               {}}},
      output_counts_(output == OutputProgress::kCountsAsWrite) {}

void IdleStateHandler::on_added(HandlerContext& ctx) {
  if (ctx.channel().is_active()) start(ctx);
}

void IdleStateHandler::on_removed(HandlerContext&) {
  stop();
}

void IdleStateHandler::on_active(HandlerContext& ctx) {
  start(ctx);
  ctx.fire_active();
}

void IdleStateHandler::on_inactive(HandlerContext& ctx) {
  stop();
  ctx.fire_inactive();
}

void IdleStateHandler::on_read(HandlerContext& ctx, Message&& message) {
  reading_ = true;
  for (Check& check : checks_)
    check.first = check.state == IdleState::kWriterIdle ? check.first : true;
  ctx.fire_read(std::move(message));
}

void IdleStateHandler::on_read_complete(HandlerContext& ctx) {
  // Only a batch that brought this handler a message was reading: a decoder in front of it
  // passes on the read-complete of a batch that completed no frame too.
  if (reading_) {
    reading_ = false;
    last_read_ms_ = ctx.loop().now_ms();
  }
  ctx.fire_read_complete();
}

void IdleStateHandler::write(HandlerContext& ctx, Message&& message, WriteCallback&& done) {
  note_write(ctx.loop().now_ms());
  ctx.write(std::move(message), std::move(done));
}

void IdleStateHandler::note_write(std::uint64_t now) noexcept {
  last_write_ms_ = now;
  checks_[1].first = true;
  checks_[2].first = true;
}

void IdleStateHandler::start(HandlerContext& ctx) {
  if (started_) return;
  started_ = true;
  last_read_ms_ = last_write_ms_ = ctx.loop().now_ms();
  if (output_counts_) bytes_delivered_seen_ = ctx.channel().bytes_delivered();
  for (Check& check : checks_) {
    if (check.timeout_ms != 0) arm(ctx, check, check.timeout_ms);
  }
}

void IdleStateHandler::stop() {
  started_ = false;
  for (Check& check : checks_)
    check.timer.cancel();
}

std::uint64_t IdleStateHandler::last_activity(const Check& check) const noexcept {
  switch (check.state) {
    case IdleState::kReaderIdle:
      return last_read_ms_;
    case IdleState::kWriterIdle:
      return last_write_ms_;
    case IdleState::kAllIdle:
      return std::max(last_read_ms_, last_write_ms_);
  }
  return last_read_ms_;
}

void IdleStateHandler::note_output_progress(HandlerContext& ctx, std::uint64_t now) noexcept {
  const std::uint64_t delivered = ctx.channel().bytes_delivered();
  if (delivered == bytes_delivered_seen_) return;
  bytes_delivered_seen_ = delivered;
  // The bytes arrived at some point since the previous check; taking the latest moment errs
  // towards keeping a connection that is still moving.
  note_write(now);
}

void IdleStateHandler::arm(HandlerContext& ctx, Check& check, std::uint64_t delay_ms) {
  // The context outlives the timer: stop() cancels it when the handler leaves or the channel
  // closes.
  HandlerContext* context = &ctx;
  check.timer = ctx.loop().schedule(std::chrono::milliseconds(delay_ms),
                                    [this, context, &check] { expire(*context, check); });
}

void IdleStateHandler::expire(HandlerContext& ctx, Check& check) {
  if (!started_ || !ctx.channel().is_open()) return;
  const std::uint64_t now = ctx.loop().now_ms();
  if (output_counts_ && check.state != IdleState::kReaderIdle) note_output_progress(ctx, now);
  const bool reading_now = reading_ && check.state != IdleState::kWriterIdle;
  const std::uint64_t idle_for = now - last_activity(check);
  if (reading_now || idle_for < check.timeout_ms) {
    arm(ctx, check, reading_now ? check.timeout_ms : check.timeout_ms - idle_for);
    return;
  }
  arm(ctx, check, check.timeout_ms);
  const bool first = check.first;
  check.first = false;
  ctx.fire_user_event(IdleStateEvent{check.state, first});
}

}  // namespace sluice
