#pragma once

#include <sys/uio.h>

#include <boost/intrusive/list.hpp>

#include <atomic>
#include <cstddef>
#include <span>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/channel/message.hpp"

namespace sluice {

// Told when a channel's pending bytes cross a water mark.
class WritabilityListener {
 public:
  virtual void on_writability_changed(bool writable) = 0;

 protected:
  ~WritabilityListener() = default;
};

// The writes a channel has accepted but not yet handed to the kernel, in order.
//
//   front                                                             back
//   [ flushed | flushed | flushed ][ unflushed | unflushed ]
//   ^ the transport writes from here  ^ first_unflushed_      ^ write() adds here
//
// write() adds unflushed entries; flush() marks every entry added so far as flushed; the
// transport gathers the flushed byte messages from the front into one sendmsg, then consumes
// what the kernel took. Entries are recycled through a per-thread free list, so steady-state
// writing allocates nothing. Loop thread only, except pending_bytes() and is_writable().
class OutboundBuffer {
 public:
  // normal_link: entries are unlinked only by the buffer, which knows where each one is, so
  // safe-mode hooks would only add stores and checks to every write.
  using EntryHook = boost::intrusive::list_member_hook<
      boost::intrusive::link_mode<boost::intrusive::normal_link>>;

  struct Entry {
    EntryHook hook;
    Message message;
    std::size_t bytes = 0;  // accounted bytes not yet written
    WriteCallback done;
  };
  // A channel's entries in order; also the per-thread pool of recycled ones.
  using EntryList =
      boost::intrusive::list<Entry, boost::intrusive::member_hook<Entry, EntryHook, &Entry::hook>>;

  struct Gathered {
    std::size_t iovecs = 0;
    std::size_t bytes = 0;
    // The gathered bytes are followed by a flushed FileRegion, sent by its own call: the
    // transport can hold them back (MSG_MORE) to leave in the same segments as the file.
    bool file_follows = false;
  };

  OutboundBuffer(WritabilityListener& listener, std::size_t low_water_mark,
                 std::size_t high_water_mark) noexcept
      : listener_(listener), low_water_mark_(low_water_mark), high_water_mark_(high_water_mark) {}
  // Entries still here are failed with ChannelErrc::closed.
  ~OutboundBuffer();
  OutboundBuffer(const OutboundBuffer&) = delete;
  OutboundBuffer& operator=(const OutboundBuffer&) = delete;

  void add(Message&& message, WriteCallback&& done);
  void mark_flushed() noexcept { flushed_ = entries_.size(); }

  bool empty() const noexcept { return entries_.empty(); }
  bool has_flushed() const noexcept { return flushed_ != 0; }
  std::size_t flushed_entries() const noexcept { return flushed_; }
  // The first flushed entry; has_flushed() must hold.
  Entry& front() noexcept { return entries_.front(); }

  // Fills `out` with the flushed byte messages (Buffer and CompositeBuffer components) from the
  // front, stopping at a message that is not bytes, when `out` is full, or past `max_bytes`.
  Gathered gather(std::span<iovec> out, std::size_t max_bytes) const noexcept;
  // The kernel took `written` bytes of what gather() returned: completes the messages written
  // whole and advances the one written in part.
  void consume(std::size_t written) noexcept;
  // `bytes` of the front message (a FileRegion) went out; it is not complete yet.
  void progress_front(std::size_t bytes) noexcept { subtract(entries_.front(), bytes); }
  // The front message is done: completes its callback with success.
  void complete_front() noexcept;
  // Takes the front message out and completes its callback with success (EmbeddedChannel).
  Message take_front() noexcept;
  // Fails every entry, flushed or not, with `error`. What their callbacks write meanwhile is
  // queued after them and left for the caller: the close that follows fails it.
  void fail_all(const Error& error) noexcept;

  // Any thread.
  std::size_t pending_bytes() const noexcept { return pending_.load(std::memory_order_relaxed); }
  bool is_writable() const noexcept { return writable_.load(std::memory_order_relaxed); }
  std::size_t high_water_mark() const noexcept { return high_water_mark_; }

  // Counts `bytes` that another thread is about to write (see Channel::write), so that
  // is_writable() turns false for producers at once. Any thread.
  void add_foreign(std::size_t bytes) noexcept {
    foreign_.fetch_add(bytes, std::memory_order_relaxed);
  }
  void remove_foreign(std::size_t bytes) noexcept {
    foreign_.fetch_sub(bytes, std::memory_order_relaxed);
  }
  std::size_t foreign_bytes() const noexcept { return foreign_.load(std::memory_order_relaxed); }
  // Loop thread: re-evaluates writability after foreign bytes were taken out of the count.
  void refresh_writability() noexcept { set_pending(pending_bytes()); }

 private:
  struct Popped {
    WriteCallback done;
    std::size_t bytes;  // still counted as pending: release() them once `done` has run
  };

  void subtract(Entry& entry, std::size_t bytes) noexcept;
  // Takes `bytes` out of the pending count, which may cross a water mark.
  void release(std::size_t bytes) noexcept;
  void set_pending(std::size_t pending) noexcept;
  // Unlinks the front entry and returns its callback and the bytes it still counts; the entry
  // goes back to the free list. The callback runs before the bytes are released, so that a
  // write made by a handler woken by the writability change completes after this one.
  Popped pop_front() noexcept;

  WritabilityListener& listener_;
  EntryList entries_;
  std::size_t flushed_ = 0;  // the first flushed_ entries are flushed
  std::size_t low_water_mark_;
  std::size_t high_water_mark_;
  std::atomic<std::size_t> pending_{0};  // written by the loop thread only
  std::atomic<std::size_t> foreign_{0};  // bytes queued by other threads, not yet added
  std::atomic<bool> writable_{true};     // written by the loop thread only
};

}  // namespace sluice
