#pragma once

#include <uv.h>

#include <boost/intrusive/list_hook.hpp>

#include <atomic>
#include <chrono>
#include <memory>

#include "sluice/core/ref_counted.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

class EventLoop;

namespace detail {

class LoopLiveness;

// A timer and its task. The uv handle needs a stable address until libuv's close callback, so
// the state is reference-counted: the handle holds a reference while it is open.
struct TimerState : RefCounted<TimerState> {
  uv_timer_t timer{};
  unique_function<void()> task;
  // The loop's liveness token: a ScheduledTask kept past the loop reaches it only through this.
  std::shared_ptr<LoopLiveness> loop;
  std::uint64_t delay_ms = 0;
  std::uint64_t period_ms = 0;  // 0: runs once
  std::atomic<bool> cancelled{false};
  bool started = false;
  bool closed = false;
  boost::intrusive::list_member_hook<> loop_hook;  // the loop's list of open timers

  void start_on_loop();  // loop thread
  void close_on_loop();  // loop thread
  // Loop thread: runs the task; one that throws is logged and cancelled.
  void run_task() noexcept;
};

}  // namespace detail

// A handle on work scheduled with EventLoop::schedule or schedule_every. Dropping the handle
// does not cancel the work; cancel() does.
class ScheduledTask {
 public:
  ScheduledTask() = default;
  explicit ScheduledTask(Ref<detail::TimerState> state) : state_(std::move(state)) {}

  // Any thread. A task that has not started will not run; a periodic task stops repeating. A
  // task already running finishes. A task that throws is logged and cancelled (a periodic one
  // runs no more).
  void cancel();
  bool is_cancelled() const noexcept {
    return state_ && state_->cancelled.load(std::memory_order_acquire);
  }
  explicit operator bool() const noexcept { return static_cast<bool>(state_); }

 private:
  Ref<detail::TimerState> state_;
};

}  // namespace sluice
