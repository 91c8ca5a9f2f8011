#include "sluice/core/event_loop_group.hpp"

#include <cstdlib>
#include <stdexcept>
#include <thread>

#include "sluice/core/log.hpp"

namespace sluice {

EventLoopGroup::EventLoopGroup(std::size_t threads, std::string name) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  loops_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i) {
    loops_.push_back(std::make_unique<EventLoop>(name + "-" + std::to_string(i)));
  }
  for (auto& loop : loops_)
    loop->start();
}

EventLoopGroup::~EventLoopGroup() {
  for (auto& loop : loops_) {
    if (loop->in_loop()) {
      // A destructor cannot refuse by throwing, and going on would join this very thread and
      // free the loop running it: say what happened before stopping.
      logger().critical(
          "EventLoopGroup destroyed on its own loop {}: a loop cannot wait for its own thread "
          "to end; destroy the group from a thread outside it",
          loop->name());
      std::abort();
    }
  }
  shutdown_gracefully();
}

EventLoop& EventLoopGroup::next() noexcept {
  return *loops_[next_.fetch_add(1, std::memory_order_relaxed) % loops_.size()];
}

void EventLoopGroup::shutdown_gracefully(std::chrono::milliseconds quiet,
                                         std::chrono::milliseconds timeout) {
  for (auto& loop : loops_) {
    if (loop->in_loop()) throw std::logic_error("EventLoopGroup shut down from one of its loops");
  }
  const std::lock_guard lock(shutdown_mutex_);
  if (shut_down_) return;
  shut_down_ = true;
  for (auto& loop : loops_)
    loop->shutdown_gracefully(quiet, timeout);
  for (auto& loop : loops_)
    loop->join();
}

bool EventLoopGroup::is_terminated() const noexcept {
  for (const auto& loop : loops_) {
    if (!loop->is_terminated()) return false;
  }
  return true;
}

LoopMetrics EventLoopGroup::metrics() const noexcept {
  LoopMetrics total;
  for (const auto& loop : loops_) {
    const LoopMetrics m = loop->metrics();
    total.active_channels += m.active_channels;
    total.accepted += m.accepted;
    total.bytes_read += m.bytes_read;
    total.bytes_written += m.bytes_written;
    total.read_calls += m.read_calls;
    total.write_calls += m.write_calls;
  }
  return total;
}

}  // namespace sluice
