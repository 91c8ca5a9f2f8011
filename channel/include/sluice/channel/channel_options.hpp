#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace sluice {

// How large a buffer each read gets.
struct ReceiveBufferSizing {
  // Adaptive (the default): start at `initial`; after a read that filled its buffer, grow four
  // steps (sizes step by 16 bytes up to 512, then double, so 2 KiB grows to 32 KiB); after two
  // reads in a row that used at most half of the next size down, shrink one step.
  // A read that fills its buffer is followed by another, which returns EAGAIN when the fill was
  // a coincidence. Peers keep power-of-two amounts in flight (64 KiB windows are common), so
  // the largest buffer is one step above 64 KiB: such a read then ends the batch by itself.
  static ReceiveBufferSizing adaptive(std::size_t minimum = 64, std::size_t initial = 2048,
                                      std::size_t maximum = 131072) {
    return {minimum, initial, maximum};
  }
  // Every read gets `size` bytes.
  static ReceiveBufferSizing fixed(std::size_t size) { return {size, size, size}; }

  // The largest read buffer a channel accepts: a socket receive buffer rarely holds more than
  // a few MiB, and a read buffer is a pooled Buffer (under 2 GiB), which a larger size would
  // only fail to allocate in the middle of a read.
  static constexpr std::size_t kLargest = std::size_t{64} << 20;

  std::size_t minimum;
  std::size_t initial;
  std::size_t maximum;
};

// Per-channel options. The defaults suit a request/response server.
struct ChannelOptions {
  bool tcp_nodelay = true;  // TCP_NODELAY: no Nagle delay on small writes
  bool keep_alive = false;  // SO_KEEPALIVE
  int send_buffer = 0;      // SO_SNDBUF; 0 keeps the kernel's default (and autotuning)
  int receive_buffer = 0;   // SO_RCVBUF; 0 keeps the kernel's default (and autotuning)
  // Above the high mark is_writable() turns false (and on_writability_changed fires); below
  // the low mark, or with nothing pending, it turns true again.
  std::size_t write_high_water_mark = 64 * 1024;
  std::size_t write_low_water_mark = 32 * 1024;
  bool auto_read = true;            // false: read one batch per read() call
  bool allow_half_closure = false;  // on EOF: keep the output open and fire an input-shutdown event
  unsigned max_messages_per_read = 16;  // reads per wake-up before yielding to other channels
  unsigned write_spin_count = 16;       // write calls per flush before yielding
  // Per address; positive (0 is not "none") and at most a day.
  std::chrono::milliseconds connect_timeout{30'000};
  ReceiveBufferSizing receive_sizing = ReceiveBufferSizing::adaptive();
};

// Options of a listening socket.
struct ListenOptions {
  int backlog = 4096;         // capped by net.core.somaxconn
  bool reuse_address = true;  // SO_REUSEADDR: rebind while old connections sit in TIME_WAIT
  bool reuse_port = false;    // SO_REUSEPORT: one listener per loop, the kernel spreads connections
  unsigned max_accepts_per_wakeup = 64;
};

// Throw std::invalid_argument, naming the field, for values that cannot work: a read or write
// budget of 0 (the poll would fire forever with nothing done), a low water mark above the high
// one (writability would flip on every write), receive sizes that are not
// 0 < minimum <= initial <= maximum or a maximum over ReceiveBufferSizing::kLargest, a negative
// buffer size or backlog, a connect timeout that is not positive (zero would time every connect
// out before it is polled) or is over a day. The
// bootstraps call these when handed options, so a mistake surfaces in the caller, not on a loop.
void validate(const ChannelOptions& options);
void validate(const ListenOptions& options);

}  // namespace sluice
