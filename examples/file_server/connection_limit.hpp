#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>

#include "sluice/channel/channel_handler.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice::examples {

// A cap on the connections being served at once, shared by every loop thread. A connection over
// the cap is not closed at accept: it is answered "503 Service Unavailable" with Retry-After
// and then closed, so that a client learns why instead of seeing a reset it might retry at
// once (RFC 9110 §15.6.4).
class ConnectionLimit {
 public:
  // 0: no limit.
  explicit ConnectionLimit(std::size_t max) noexcept : max_(max) {}

  // Any thread. Takes a slot; false when all are taken.
  bool try_acquire() noexcept {
    const std::size_t before = active_.fetch_add(1, std::memory_order_acq_rel);
    if (max_ != 0 && before >= max_) {
      active_.fetch_sub(1, std::memory_order_acq_rel);
      return false;
    }
    return true;
  }
  // Any thread.
  void release() noexcept { active_.fetch_sub(1, std::memory_order_acq_rel); }
  std::size_t active() const noexcept { return active_.load(std::memory_order_relaxed); }
  std::size_t max() const noexcept { return max_; }

 private:
  const std::size_t max_;
  std::atomic<std::size_t> active_{0};
};

// Holds a connection's slot: gives it back when the connection closes, or when the pipeline
// is destroyed without having been active (an initializer that failed).
class ConnectionSlot final : public ChannelHandler {
 public:
  explicit ConnectionSlot(std::shared_ptr<ConnectionLimit> limit) : limit_(std::move(limit)) {}
  ~ConnectionSlot() override { give_back(); }
  ConnectionSlot(const ConnectionSlot&) = delete;
  ConnectionSlot& operator=(const ConnectionSlot&) = delete;

  void on_inactive(HandlerContext& ctx) override;

 private:
  void give_back() noexcept {
    if (limit_) std::exchange(limit_, nullptr)->release();
  }

  std::shared_ptr<ConnectionLimit> limit_;
};

// The whole pipeline tail of a connection over the limit: the first request gets a 503 with
// "Connection: close"; the HTTP codec then closes the connection. One that sends no request
// within kGrace is closed, whatever the idle timeout (even with none): connections over the cap
// are not counted, so their descriptors must not last.
class OverCapacityHandler final : public ChannelHandler {
 public:
  static constexpr std::chrono::seconds kGrace{2};

  void on_active(HandlerContext& ctx) override;
  void on_inactive(HandlerContext& ctx) override;
  void on_removed(HandlerContext& ctx) override;
  void on_read(HandlerContext& ctx, Message&& message) override;
  void on_read_complete(HandlerContext& ctx) override;
  void on_user_event(HandlerContext& ctx, Message&& event) override;

 private:
  bool answered_ = false;
  ScheduledTask grace_;
};

}  // namespace sluice::examples
