#pragma once

#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "latency_histogram.hpp"
#include "sluice/channel/inbound_handler_for.hpp"

namespace sluice::examples {

// Shared by the connections of one sluice-echo-client --bench run; the counters are per
// connection, merged here as each connection ends.
struct BenchState {
  using Clock = std::chrono::steady_clock;

  BenchState(std::size_t message_size, std::size_t message_depth)
      : size(message_size), depth(message_depth), pattern(message_size + 256) {
    for (std::size_t k = 0; k < pattern.size(); ++k)
      pattern[k] = static_cast<std::byte>(k & 0xff);
  }

  std::size_t size;
  std::size_t depth;
  std::vector<std::byte> pattern;  // byte k = k mod 256, size + 256 long
  std::atomic<bool> sending{true};
  // While true, echoed messages are counted and their latencies recorded: the run's clock
  // starts once every connection is up and stops when sending does, and messages echoed while
  // the others connect or while draining lie outside its time.
  std::atomic<bool> measuring{false};
  std::mutex mutex;
  LatencyHistogram latencies;  // guarded by mutex, merged into at the end
  std::uint64_t messages = 0;  // guarded by mutex
  std::uint64_t errors = 0;    // guarded by mutex
  std::atomic<std::size_t> finished{0};
};

// Keeps `depth` messages in flight and checks each byte that comes back.
class BenchConnection final : public InboundHandlerFor<Buffer> {
 public:
  using Clock = BenchState::Clock;

  explicit BenchConnection(std::shared_ptr<BenchState> state) : state_(std::move(state)) {}

  void on_active(HandlerContext& ctx) override {
    for (std::size_t i = 0; i < state_->depth; ++i)
      send(ctx);
    ctx.flush();
    ctx.fire_active();
  }

  void on_message(HandlerContext& ctx, Buffer&& bytes) override {
    std::span<const std::byte> rest = bytes.readable_span();
    while (!rest.empty()) {
      // Bytes past the last message sent: nothing is in flight to match them against.
      if (received_ / state_->size >= sent_) {
        ++errors_;
        ctx.close();
        return;
      }
      // Compare up to the end of the current message in one go.
      const std::size_t offset = received_ % state_->size;
      const std::size_t take = std::min(rest.size(), state_->size - offset);
      if (std::memcmp(rest.data(), expected(received_ / state_->size, offset), take) != 0) {
        ++errors_;
      }
      received_ += take;
      rest = rest.subspan(take);
      if (received_ % state_->size == 0) {
        const auto sent_at = in_flight_.front();
        in_flight_.pop_front();
        if (state_->measuring.load(std::memory_order_relaxed)) {
          latencies_.record(static_cast<std::uint64_t>(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - sent_at)
                  .count()));
          ++messages_;
        }
        if (state_->sending.load(std::memory_order_relaxed)) send(ctx);
      }
    }
    if (in_flight_.empty() && !state_->sending.load(std::memory_order_relaxed)) ctx.close();
  }

  void on_read_complete(HandlerContext& ctx) override { ctx.flush(); }

  void on_inactive(HandlerContext& ctx) override {
    {
      std::lock_guard lock(state_->mutex);
      state_->latencies.merge(latencies_);
      state_->messages += messages_;
      state_->errors += errors_ + (in_flight_.empty() ? 0 : 1);
    }
    state_->finished.fetch_add(1);
    ctx.fire_inactive();
  }

 private:
  // Message m carries bytes (m + i) mod 256, so a lost, repeated or reordered message shows
  // up as a mismatch. The pattern table holds every rotation contiguously.
  const std::byte* expected(std::uint64_t message, std::size_t offset) const {
    return state_->pattern.data() + (message + offset) % 256;
  }
  void send(HandlerContext& ctx) {
    Buffer message = Buffer::allocate(state_->size);
    message.write_bytes(std::span(expected(sent_, 0), state_->size));
    ++sent_;
    in_flight_.push_back(Clock::now());
    ctx.write(std::move(message));
  }

  std::shared_ptr<BenchState> state_;
  std::deque<Clock::time_point> in_flight_;
  std::uint64_t sent_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t messages_ = 0;
  std::uint64_t errors_ = 0;
  LatencyHistogram latencies_;
};

}  // namespace sluice::examples
