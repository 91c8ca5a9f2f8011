#include "sluice/channel/channel_options.hpp"

#include <stdexcept>
#include <string>

namespace sluice {
namespace {

void require(bool holds, const char* what) {
  if (!holds) throw std::invalid_argument(std::string("invalid channel options: ") + what);
}

}  // namespace

void validate(const ChannelOptions& options) {
  require(options.max_messages_per_read != 0, "max_messages_per_read must be at least 1");
  require(options.write_spin_count != 0, "write_spin_count must be at least 1");
  require(options.write_low_water_mark <= options.write_high_water_mark,
          "write_low_water_mark must not exceed write_high_water_mark");
  require(options.send_buffer >= 0, "send_buffer must not be negative (0: the kernel's default)");
  require(options.receive_buffer >= 0,
          "receive_buffer must not be negative (0: the kernel's default)");
  // Netty reads zero as "no timeout"; here the timer would fall due before the socket is ever
  // polled, so every connect, even one the peer accepted at once, would time out.
  require(options.connect_timeout.count() > 0, "connect_timeout must be positive");
  // Longer is no connect timeout at all: a peer that answers that late is gone.
  require(options.connect_timeout <= std::chrono::hours(24), "connect_timeout is over a day");
  const ReceiveBufferSizing& sizing = options.receive_sizing;
  require(
      sizing.minimum != 0 && sizing.minimum <= sizing.initial && sizing.initial <= sizing.maximum,
      "receive_sizing needs 0 < minimum <= initial <= maximum");
  require(sizing.maximum <= ReceiveBufferSizing::kLargest,
          "receive_sizing.maximum is over ReceiveBufferSizing::kLargest (64 MiB)");
}

void validate(const ListenOptions& options) {
  require(options.max_accepts_per_wakeup != 0, "max_accepts_per_wakeup must be at least 1");
  require(options.backlog >= 0, "backlog must not be negative");
}

}  // namespace sluice
