#include "sluice/channel/channel.hpp"

#include <fmt/format.h>

#include <utility>

#include "sluice/channel/channel_error.hpp"
#include "sluice/core/log.hpp"

namespace sluice {
namespace {

std::atomic<std::uint64_t> next_channel_id{1};

// A write handed from another thread to the loop. Should the loop refuse it (it has stopped),
// the destructor still reports the write failed and takes its bytes back out of the count.
struct ForeignWrite {
  Ref<Channel> channel;
  Message message;
  WriteCallback done;
  std::size_t bytes;
  OutboundBuffer* outbound;
  bool delivered = false;

  ~ForeignWrite() {
    if (delivered) return;
    outbound->remove_foreign(bytes);
    complete_write(done, Error(ChannelErrc::closed));
  }
};

}  // namespace

Channel::Channel(EventLoop& loop, ChannelOptions options)
    : outbound_(*this, options.write_low_water_mark, options.write_high_water_mark),
      loop_(&loop),
      id_(next_channel_id.fetch_add(1, std::memory_order_relaxed)),
      options_(options),
      pipeline_(*this),
      close_promise_(&loop),
      auto_read_(options.auto_read) {}

Channel::~Channel() {
  pipeline_.clear();
}

void Channel::destroy(Channel* channel) noexcept {
  // A handler's on_removed that takes and drops a reference during tear_down() brings the
  // count back to zero: the channel is already on its way out.
  if (channel->disposing_) return;
  channel->disposing_ = true;
  channel->dispose();
}

void Channel::dispose() noexcept {
  Channel* self = this;
  auto destroy_now = [self] {
    self->tear_down();
    delete self;
  };
  if (loop_->in_loop()) {
    loop_->defer(destroy_now);
  } else if (!loop_->execute(destroy_now)) {
    destroy_now();  // the loop has stopped: nothing of it runs any more
  }
}

void Channel::tear_down() noexcept {
  // An EmbeddedChannel dropped unfinished is still open here. Closed from now on, what write
  // callbacks and on_removed write fails at once; queued, a write a failed write's callback
  // made (to retry while the channel is open) was failed again, and made another, for ever.
  mark_closed();
  outbound_.fail_all(Error(ChannelErrc::closed, describe()));
  pipeline_.clear();
}

bool Channel::is_writable() const noexcept {
  return outbound_.is_writable() && pending_write_bytes() <= outbound_.high_water_mark();
}

void Channel::write(Message message, WriteCallback done) {
  if (loop_->in_loop()) {
    pipeline_.write(std::move(message), std::move(done));
    return;
  }
  const std::size_t bytes = message.bytes();
  auto pending = std::unique_ptr<ForeignWrite>(
      new ForeignWrite{Ref<Channel>(this), std::move(message), std::move(done), bytes, &outbound_});
  // Counted only once the write exists: from here its destructor takes the bytes back out.
  outbound_.add_foreign(bytes);
  loop_->execute([pending = std::move(pending)]() mutable {
    pending->delivered = true;
    pending->outbound->remove_foreign(pending->bytes);
    pending->channel->pipeline_.write(std::move(pending->message), std::move(pending->done));
    // The foreign bytes left the count: crossing a water mark that way is an event too.
    if (pending->channel->is_open()) pending->outbound->refresh_writability();
  });
}

void Channel::flush() {
  loop_->dispatch([self = Ref<Channel>(this)] { self->pipeline_.flush(); });
}

void Channel::write_and_flush(Message message, WriteCallback done) {
  write(std::move(message), std::move(done));
  flush();
}

void Channel::read() {
  loop_->dispatch([self = Ref<Channel>(this)] { self->pipeline_.read(); });
}

void Channel::close() {
  loop_->dispatch([self = Ref<Channel>(this)] { self->pipeline_.close(); });
}

void Channel::shutdown_output() {
  loop_->dispatch([self = Ref<Channel>(this)] { self->pipeline_.shutdown_output(); });
}

void Channel::set_auto_read(bool enabled) {
  if (auto_read_.exchange(enabled, std::memory_order_relaxed) == enabled) return;
  loop_->dispatch([self = Ref<Channel>(this)] {
    if (self->is_open()) self->do_auto_read_changed();
  });
}

void Channel::do_write(Message&& message, WriteCallback&& done) {
  if (!is_open()) {
    complete_write(done, Error(ChannelErrc::closed, describe()));
    return;
  }
  if (!can_write(message)) {
    logger().warn("{} cannot write a {}: no encoder turned it into bytes", describe(),
                  message.type_name());
    complete_write(done, Error(ChannelErrc::unsupported_message, std::string(message.type_name())));
    return;
  }
  outbound_.add(std::move(message), std::move(done));
}

bool Channel::can_write(const Message& message) const noexcept {
  return message.is<Buffer>() || message.is<CompositeBuffer>() || message.is<FileRegion>();
}

void Channel::on_unhandled_read(Message&& message) {
  logger().debug("{} dropped a {} that no handler consumed", describe(), message.type_name());
}

void Channel::on_unhandled_error(const Error& error) {
  if (is_connection_lost(error)) {
    logger().debug("{} {} (connection lost; closing)", describe(), error.message());
  } else {
    logger().warn("{} {} (no handler took the error; closing)", describe(), error.message());
  }
  pipeline_.close();
}

void Channel::register_with_loop() {
  self_ = Ref<Channel>(this);
  registered_ = true;
  loop_->register_resource(*this);
  loop_->count_channel(1);
}

void Channel::become_active(SocketAddress local, SocketAddress remote) {
  local_address_ = local;
  remote_address_ = remote;
  State expected = State::kOpen;
  if (state_.compare_exchange_strong(expected, State::kActive, std::memory_order_acq_rel)) {
    activated_ = true;
    pipeline_.fire_active();
  }
}

void Channel::finish_close(const Error& reason) {
  if (finished_) return;
  finished_ = true;
  state_.store(State::kClosed, std::memory_order_release);
  outbound_.fail_all(reason);
  if (activated_) pipeline_.fire_inactive();
  if (registered_) {
    registered_ = false;
    loop_->unregister_resource(*this);
    loop_->count_channel(-1);
  }
  // Last, so that whoever waits on it sees the channel gone from its loop's counts too.
  close_promise_.set_value();
  self_.reset();  // destruction, if this was the last reference, waits for the iteration's end
}

void Channel::on_writability_changed(bool) {
  pipeline_.fire_writability_changed();
}

void Channel::close_when_flushed() {
  loop_->dispatch([self = Ref<Channel>(this)] { self->on_close_gracefully(); });
}

void Channel::on_close_gracefully() {
  if (!is_open()) return;
  // Through the pipeline, as close(): a handler holding flushes back (FlushConsolidationHandler
  // during a read batch) lets them go on the way, and the head counts them as flushed.
  pipeline_.close(CloseMode::kWhenFlushed);
}

void Channel::close_from_head(CloseMode mode) {
  if (mode == CloseMode::kWhenFlushed && outbound_.has_flushed()) {
    close_when_flushed_ = true;  // the transport closes once the flushed bytes are out
    return;
  }
  do_close();
}

void Channel::on_close_now() {
  do_close();
}

std::string Channel::describe() const {
  if (remote_address_.empty()) return fmt::format("[id {}]", id_);
  return fmt::format("[id {} {} -> {}]", id_, local_address_.to_string(),
                     remote_address_.to_string());
}

}  // namespace sluice
