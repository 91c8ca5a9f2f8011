#include "sluice/channel/outbound_buffer.hpp"

#include <boost/intrusive/slist.hpp>

#include <algorithm>

#include "sluice/channel/channel_error.hpp"
#include "sluice/core/log.hpp"

namespace sluice {
namespace {

// Recycled entries, per thread: a loop's channels reuse them, so a steady stream of writes
// allocates nothing. Bounded, so a burst does not pin memory for good. An entry is in a
// channel's list or here, never both, so the pool links it by the same hook.
// Channels freed by a thread's later destructors (its embedded loop, a static) may give entries
// back after the pool is gone; a trivially destructible flag tells them to delete instead.
thread_local bool t_entry_pool_gone = false;

struct EntryPool {
  static constexpr std::size_t kMaxKept = 1024;
  OutboundBuffer::EntryList free;

  ~EntryPool() {
    free.clear_and_dispose([](OutboundBuffer::Entry* entry) { delete entry; });
    t_entry_pool_gone = true;
  }
  OutboundBuffer::Entry* take() {
    if (free.empty()) return new OutboundBuffer::Entry;
    OutboundBuffer::Entry& entry = free.back();
    free.pop_back();
    return &entry;
  }
  void give(OutboundBuffer::Entry* entry) noexcept {
    if (free.size() < kMaxKept) {
      free.push_back(*entry);
    } else {
      delete entry;
    }
  }
};

thread_local EntryPool t_entry_pool;

OutboundBuffer::Entry* take_entry() {
  return t_entry_pool_gone ? new OutboundBuffer::Entry : t_entry_pool.take();
}

void give_entry(OutboundBuffer::Entry* entry) noexcept {
  if (t_entry_pool_gone) {
    delete entry;
  } else {
    t_entry_pool.give(entry);
  }
}

}  // namespace

OutboundBuffer::~OutboundBuffer() {
  fail_all(Error(ChannelErrc::closed));
}

void OutboundBuffer::add(Message&& message, WriteCallback&& done) {
  Entry* entry = take_entry();
  entry->bytes = message.bytes();
  entry->message = std::move(message);
  entry->done = std::move(done);
  entries_.push_back(*entry);
  set_pending(pending_bytes() + entry->bytes);
}

OutboundBuffer::Gathered OutboundBuffer::gather(std::span<iovec> out,
                                                std::size_t max_bytes) const noexcept {
  Gathered gathered;
  std::size_t index = 0;
  for (auto it = entries_.begin(); index < flushed_ && gathered.iovecs < out.size();
       ++it, ++index) {
    const Message& message = it->message;
    if (const auto* buffer = message.get_if<Buffer>()) {
      const std::span<const std::byte> bytes = buffer->readable_span();
      if (!bytes.empty()) {
        out[gathered.iovecs++] = {const_cast<std::byte*>(bytes.data()), bytes.size()};
        gathered.bytes += bytes.size();
      }
    } else if (const auto* composite = message.get_if<CompositeBuffer>()) {
      const std::size_t added = composite->to_iovecs(out.subspan(gathered.iovecs));
      for (std::size_t i = 0; i < added; ++i)
        gathered.bytes += out[gathered.iovecs + i].iov_len;
      gathered.iovecs += added;
      if (added < composite->component_count()) break;  // out of iovecs mid-message
    } else {
      // A FileRegion or other message: written on its own.
      const auto* region = message.get_if<FileRegion>();
      gathered.file_follows = region != nullptr && region->remaining() != 0;
      break;
    }
    if (gathered.bytes >= max_bytes) break;
  }
  return gathered;
}

void OutboundBuffer::consume(std::size_t written) noexcept {
  while (!entries_.empty() && flushed_ != 0) {
    Entry& entry = entries_.front();
    std::size_t length;
    if (auto* buffer = entry.message.get_if<Buffer>()) {
      length = buffer->readable_bytes();
      if (written < length) {
        buffer->skip(written);
        subtract(entry, written);
        return;
      }
    } else if (auto* composite = entry.message.get_if<CompositeBuffer>()) {
      length = composite->readable_bytes();
      if (written < length) {
        composite->skip(written);
        subtract(entry, written);
        return;
      }
    } else {
      return;  // not bytes: the transport completes it
    }
    written -= length;
    complete_front();
  }
}

void OutboundBuffer::complete_front() noexcept {
  Popped popped = pop_front();
  // Most writes carry no callback: no success Error to make for them.
  if (popped.done) complete_write(popped.done, Error());
  release(popped.bytes);
}

Message OutboundBuffer::take_front() noexcept {
  Message message = std::move(entries_.front().message);
  complete_front();
  return message;
}

void OutboundBuffer::fail_all(const Error& error) noexcept {
  // Only the writes queued now. A callback may write again, and while the channel is still
  // open (a socket error fails the writes before the close that follows it) that write is
  // queued here: failing until empty went on for as long as the callback kept writing.
  EntryList failing;
  failing.splice(failing.end(), entries_);
  flushed_ = 0;
  while (!failing.empty()) {
    Entry& entry = failing.front();
    failing.pop_front();
    WriteCallback done = std::move(entry.done);
    const std::size_t bytes = entry.bytes;
    entry.message.reset();
    give_entry(&entry);
    complete_write(done, error);
    release(bytes);  // after the callback, as pop_front() explains
  }
}

OutboundBuffer::Popped OutboundBuffer::pop_front() noexcept {
  Entry& entry = entries_.front();
  entries_.pop_front();
  if (flushed_ != 0) --flushed_;
  Popped popped{std::move(entry.done), entry.bytes};
  entry.message.reset();
  give_entry(&entry);
  return popped;
}

void OutboundBuffer::subtract(Entry& entry, std::size_t bytes) noexcept {
  bytes = std::min(bytes, entry.bytes);
  entry.bytes -= bytes;
  release(bytes);
}

void OutboundBuffer::release(std::size_t bytes) noexcept {
  set_pending(pending_bytes() - bytes);
}

void OutboundBuffer::set_pending(std::size_t pending) noexcept {
  pending_.store(pending, std::memory_order_relaxed);
  // Bytes queued by other threads count too: is_writable() turns false for them at once, and
  // the events must follow it both ways (a plain load, no read-modify-write on this thread).
  const std::size_t total = pending + foreign_bytes();
  const bool writable = writable_.load(std::memory_order_relaxed);
  if (writable && total > high_water_mark_) {
    writable_.store(false, std::memory_order_relaxed);
    listener_.on_writability_changed(false);
  } else if (!writable && (total < low_water_mark_ || total == 0)) {
    // An empty buffer is writable whatever the low mark: with a mark of 0 nothing is below it.
    writable_.store(true, std::memory_order_relaxed);
    listener_.on_writability_changed(true);
  }
}

}  // namespace sluice
