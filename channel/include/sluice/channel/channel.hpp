#pragma once

#include <atomic>
#include <cstdint>

#include "sluice/channel/attributes.hpp"
#include "sluice/channel/channel_options.hpp"
#include "sluice/channel/message.hpp"
#include "sluice/channel/outbound_buffer.hpp"
#include "sluice/channel/pipeline.hpp"
#include "sluice/channel/socket_address.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/loop_resource.hpp"
#include "sluice/core/ref_counted.hpp"

namespace sluice {

// An open connection (or other duplex byte stream) bound to one event loop for life, with its
// pipeline of handlers. Transports (TCP, Unix-domain, EmbeddedChannel) derive from it and
// implement the do_* operations the pipeline's head calls.
//
// Threads: every pipeline callback runs on the channel's loop thread. The operations below may
// be called from any thread; off the loop they are queued to it, in order per calling thread.
// A write queued from another thread counts toward pending_write_bytes() at once, so
// is_writable() is honest for producers on other threads.
//
// Lifetime: shared through Ref<Channel> (an intrusive count). An open channel holds a
// reference to itself; after it closes, it is destroyed at the end of a loop iteration once
// the last reference goes, never in the middle of a callback. A channel must not outlive its
// loop: drop every Ref<Channel> before the EventLoopGroup that runs it is destroyed.
class Channel : public RefCounted<Channel>, public LoopResource, private WritabilityListener {
 public:
  EventLoop& loop() const noexcept { return *loop_; }
  Pipeline& pipeline() noexcept { return pipeline_; }
  std::uint64_t id() const noexcept { return id_; }
  const ChannelOptions& options() const noexcept { return options_; }
  // Loop thread only.
  AttributeMap& attributes() noexcept { return attributes_; }

  // Any thread.
  bool is_open() const noexcept { return state_.load(std::memory_order_acquire) != State::kClosed; }
  bool is_active() const noexcept {
    return state_.load(std::memory_order_acquire) == State::kActive;
  }
  // False while the bytes waiting to be written (here and queued from other threads) are over
  // the high water mark, until they fall below the low one.
  bool is_writable() const noexcept;
  std::size_t pending_write_bytes() const noexcept {
    return outbound_.pending_bytes() + outbound_.foreign_bytes();
  }
  // Bytes written to the peer so far: what the socket took (an EmbeddedChannel counts each
  // flushed message's bytes). Loop thread. It moves whenever anything goes out, so two equal
  // readings mean nothing did; pending_write_bytes() can read the same while bytes flow.
  std::uint64_t bytes_written() const noexcept { return bytes_written_; }
  // Bytes the peer's side has taken: bytes_written() less what the kernel still holds for it
  // (unsent, or sent and not yet acknowledged; for a Unix-domain socket, not yet read). It
  // follows a slow reader a segment at a time, where bytes_written() moves only when the
  // kernel takes more, and a full socket buffer takes more only once about a third of it has
  // drained. A socket pays one ioctl per call; an EmbeddedChannel delivers what it writes.
  // Loop thread.
  virtual std::uint64_t bytes_delivered() const noexcept { return bytes_written_; }
  // Set once the channel is active; any thread after that.
  const SocketAddress& local_address() const noexcept { return local_address_; }
  const SocketAddress& remote_address() const noexcept { return remote_address_; }

  // Any thread. Enter the pipeline at its tail.
  void write(Message message, WriteCallback done = {});
  void flush();
  void write_and_flush(Message message, WriteCallback done = {});
  // Asks for one batch of reads when auto_read is off.
  void read();
  void close();
  // Closes once nothing flushed is left to write (at once when nothing is waiting), where
  // close() fails what is queued: for the last answer before a close, or the last bytes a proxy
  // relays from a side that has gone. Writes flushed meanwhile go out too, and put the close
  // back; writes not flushed when it comes fail with ChannelErrc::closed, as at close(). It goes
  // through the pipeline as a close with CloseMode::kWhenFlushed, so that a handler holding
  // flushes back lets them go first. "Written" is "taken by the kernel": input left unread at the
  // close makes the kernel reset the connection, and a reset can overtake bytes still in flight, so
  // a protocol that must deliver its last bytes while the peer still sends reads to the peer's end
  // first (a half-close, as the HTTP codec's lingering close does). A peer that never reads keeps
  // the channel open: pair it with a timeout (IdleStateHandler) where that matters.
  void close_when_flushed();
  // Sends FIN once what is flushed has been written; reading goes on. Writes not flushed by
  // then fail with ChannelErrc::output_shutdown, as do writes after it.
  void shutdown_output();
  void set_auto_read(bool enabled);
  bool auto_read() const noexcept { return auto_read_.load(std::memory_order_relaxed); }

  // Completes (with success) once the channel is closed and its inactive event has fired.
  [[nodiscard]] Future<void> close_future() const { return close_promise_.future(); }

  // "[id 7 127.0.0.1:40000 -> 127.0.0.1:8080]"
  std::string describe() const;

 protected:
  Channel(EventLoop& loop, ChannelOptions options);
  virtual ~Channel();

  // Called by RefCounted when the last reference goes.
  static void destroy(Channel* channel) noexcept;
  // Deletes the channel on its loop, at the end of the iteration (never inside a callback).
  virtual void dispose() noexcept;
  // Before deletion, while the whole object is alive: closes the channel if it is still open
  // (no on_inactive: an EmbeddedChannel dropped unfinished), fails the writes still queued and
  // removes the handlers, so that their callbacks and on_removed reach a channel that is intact;
  // what they write fails at once.
  void tear_down() noexcept;
  friend class RefCounted<Channel>;
  friend class detail::HeadHandler;
  friend class detail::TailHandler;

  // Transport operations; the pipeline's head calls them on the loop thread.
  virtual void do_write(Message&& message, WriteCallback&& done);
  virtual void do_flush() = 0;
  virtual void do_read() = 0;
  virtual void do_close() = 0;
  virtual void do_shutdown_output() = 0;
  virtual void do_auto_read_changed() {}
  // Which messages the transport can write (Buffer, CompositeBuffer, FileRegion by default).
  virtual bool can_write(const Message& message) const noexcept;

  // The tail's handling of what no handler consumed.
  virtual void on_unhandled_read(Message&& message);
  virtual void on_unhandled_error(const Error& error);
  virtual void on_unhandled_user_event(Message&&) {}

  // For transports, on the loop thread: join the loop (count, shutdown list, self reference).
  void register_with_loop();
  // The channel is connected: addresses known, on_active fires.
  void become_active(SocketAddress local, SocketAddress remote);
  // The channel closed: fails pending writes with `reason`, fires on_inactive if it was
  // active, completes the close future and leaves the loop. Idempotent.
  void finish_close(const Error& reason);
  // The state is kClosed (set at the start of a close, before finish_close).
  void mark_closed() noexcept { state_.store(State::kClosed, std::memory_order_release); }
  bool close_requested_when_flushed() const noexcept { return close_when_flushed_; }
  void add_written(std::uint64_t bytes) noexcept { bytes_written_ += bytes; }

  OutboundBuffer outbound_;

 private:
  enum class State : std::uint8_t { kOpen, kActive, kClosed };

  void on_writability_changed(bool writable) override;
  void on_close_gracefully() override;
  void on_close_now() override;
  // A close that reached the pipeline's head: at once, or, for CloseMode::kWhenFlushed, once
  // what is flushed by then has been written.
  void close_from_head(CloseMode mode);

  EventLoop* loop_;
  std::uint64_t bytes_written_ = 0;
  std::uint64_t id_;
  ChannelOptions options_;
  Pipeline pipeline_;
  AttributeMap attributes_;
  SocketAddress local_address_;
  SocketAddress remote_address_;
  Promise<void> close_promise_;
  Ref<Channel> self_;  // held while registered with the loop
  std::atomic<State> state_{State::kOpen};
  std::atomic<bool> auto_read_;
  bool registered_ = false;
  bool activated_ = false;
  bool finished_ = false;
  bool disposing_ = false;  // the last reference went; a reference taken meanwhile is ignored
  bool close_when_flushed_ = false;
};

using ChannelPtr = Ref<Channel>;

// A user event fired when the peer shut its output down and allow_half_closure is on.
struct ChannelInputShutdown {};
// A user event fired once shutdown_output() has sent FIN.
struct ChannelOutputShutdown {};

}  // namespace sluice
