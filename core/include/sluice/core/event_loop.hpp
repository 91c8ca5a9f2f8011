#pragma once

#include <uv.h>

#include <boost/intrusive/list.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/core/debug.hpp"
#include "sluice/core/loop_resource.hpp"
#include "sluice/core/scheduled_task.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

class EventLoop;

namespace detail {
// In a catch block: logs the exception being handled as thrown by `what` ("a task"). For code
// in headers that must swallow an exception without including the logger.
void log_current_exception(const char* what) noexcept;

// The longest delay a timer takes, in milliseconds: some 146 million years, far short of what
// libuv's 64-bit millisecond deadlines can count (it saturates a deadline past them anyway).
inline constexpr std::uint64_t kLongestTimerMs = std::uint64_t{1} << 62;

// `duration` in whole milliseconds for a libuv timer: rounded up, so a timer never falls due
// before its time; 0 when it is not positive; kLongestTimerMs when it is longer (or infinite).
// Counted in long double, which holds any integer count of any standard unit in range without
// overflow (an integer conversion of hours::max() to milliseconds overflows).
template <typename Rep, typename Period>
std::uint64_t timer_milliseconds(std::chrono::duration<Rep, Period> duration) noexcept {
  const long double ms =
      std::chrono::duration_cast<std::chrono::duration<long double, std::milli>>(duration).count();
  if (!(ms > 0)) return 0;  // NaN too
  if (!(ms < static_cast<long double>(kLongestTimerMs))) return kLongestTimerMs;
  return static_cast<std::uint64_t>(std::ceil(ms));
}

// A loop's liveness token (EventLoop::liveness()), shared with what may outlive the loop: a
// ScheduledTask, a Promise. It holds the loop's address until the loop's destructor clears it.
//
// On the loop's own thread the loop is alive, so loop_if_current() reads the address with no
// lock. Any other thread reaches the loop only through execute(), which holds the token's mutex
// from reading the address until the task is queued; the destructor takes the same mutex to
// clear the address (once the loop has stopped taking tasks), so no loop is freed under such a
// call. The mutex comes before the loop's task queue mutex, never after.
class LoopLiveness {
 public:
  explicit LoopLiveness(EventLoop* loop) noexcept : loop_(loop) {}
  LoopLiveness(const LoopLiveness&) = delete;
  LoopLiveness& operator=(const LoopLiveness&) = delete;

  // The loop when the calling thread is the one running it, else nullptr. No lock.
  EventLoop* loop_if_current() const noexcept;
  // The loop, for code that runs on it (its timers). No lock, no check.
  EventLoop* loop_on_its_thread() const noexcept { return loop_.load(std::memory_order_relaxed); }
  // Any thread: queues `task` to the loop (as EventLoop::execute from another thread) while the
  // loop exists and takes tasks, and returns true. Otherwise returns false and leaves `task`
  // with the caller, to run or drop once this call has returned: what it does may reach this
  // token again (a callback completing another promise of the same loop).
  bool execute(unique_function<void()>& task);

 private:
  friend class sluice::EventLoop;
  void clear() noexcept;  // the loop's destructor

  std::mutex mutex_;
  std::atomic<EventLoop*> loop_;  // written under mutex_
};
}  // namespace detail

// Counters a loop keeps about the channels it runs. Only the loop thread writes them; any
// thread may read them.
struct LoopMetrics {
  std::int64_t active_channels = 0;
  std::int64_t accepted = 0;
  std::int64_t bytes_read = 0;
  std::int64_t bytes_written = 0;
  std::int64_t read_calls = 0;   // recv calls that returned data
  std::int64_t write_calls = 0;  // sendto/sendmsg/sendfile/splice calls that wrote bytes
};

// One libuv loop driven by one thread. Everything bound to the loop (channels, timers,
// listeners) is touched only on that thread; other threads hand work over with execute().
//
// Each iteration runs libuv once (timers, I/O, other threads' tasks, close callbacks), then the
// end-of-iteration work, in this order: tasks queued from the loop itself, tasks deferred with
// defer() (channel destruction among them), and reclaiming buffers other threads freed back to
// this loop's arena.
class EventLoop {
 public:
  using Task = unique_function<void()>;
  using Clock = std::chrono::steady_clock;

  explicit EventLoop(std::string name = "sluice-loop");
  // Stops and joins a loop started with start(). On the loop's own thread that cannot be
  // done: the process aborts, saying so.
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Runs the loop on the calling thread until stop(), then closes every handle left.
  void run();
  // Runs the loop on a new thread; returns once the thread is set up (its buffer arena
  // registered) and about to run.
  void start();
  // Any thread: the loop finishes its current iteration, closes its handles and run() returns.
  void stop();
  // Waits for the thread made by start() to end. Not from the loop thread.
  void join();

  // Runs libuv's callbacks that are ready, and the end-of-iteration work, without blocking.
  // For loops driven by hand (EmbeddedChannel, tests); loop thread only.
  void run_ready();
  // Whether run_ready() would find work now: tasks queued here or by other threads, deferred
  // work, a timer due by the clock as read now, a handle closing. Loop thread only.
  bool has_ready_work();

  // True on the thread running this loop (or, before it runs, on the thread that bound it).
  bool in_loop() const noexcept { return t_current == this; }
  // The loop running on the calling thread, or nullptr.
  static EventLoop* current() noexcept { return t_current; }
  // Debug builds abort, naming `operation`, when called off this loop's thread: a loop-bound
  // object touched from the wrong thread is a data race waiting to happen. Release builds
  // check nothing.
  void assert_in_loop(const char* operation) const noexcept {
    if constexpr (kDebugChecks) {
      if (!in_loop()) [[unlikely]]
        fail_thread_affinity(operation);
    }
  }
  // Every build aborts, naming `operation`, when called off this loop's thread: for the few
  // entry points where a wrong thread would corrupt shared state in release builds too (a
  // channel's outbound queue and socket), at the cost of one thread-local compare.
  void require_in_loop(const char* operation) const noexcept {
    if (!in_loop()) [[unlikely]]
      fail_thread_affinity(operation);
  }
  // Makes the calling thread this loop's thread without running it (loops driven by hand).
  void bind_to_current_thread();

  // Any thread: runs `task` on the loop, after the current callback. Returns false (and drops
  // the task) once the loop has stopped.
  bool execute(Task task);
  // Runs `task` now when called on the loop, else as execute().
  bool dispatch(Task task) {
    if (in_loop()) {
      task();
      return true;
    }
    return execute(std::move(task));
  }
  // Loop thread only: runs `task` at the end of this iteration, after libuv's close callbacks.
  void defer(Task task);

  // Any thread: runs `task` on the loop after `delay`, or every `period`, until cancelled.
  // The delay counts from when the loop starts the timer (at once on the loop's own thread),
  // to within the loop clock's millisecond. Durations of any type are taken as they are,
  // rounded up to whole milliseconds (a period to at least one): one too long to count
  // (milliseconds::max(), hours::max()) never falls due, where converting it to nanoseconds
  // would overflow into a delay already past. Work scheduled once the loop has stopped, or
  // while it closes its last handles, never runs: the handle comes back cancelled.
  template <typename Rep, typename Period>
  ScheduledTask schedule(std::chrono::duration<Rep, Period> delay, Task task) {
    return schedule_timer(detail::timer_milliseconds(delay), 0, std::move(task));
  }
  template <typename Rep, typename Period>
  ScheduledTask schedule_every(std::chrono::duration<Rep, Period> period, Task task) {
    const std::uint64_t period_ms = std::max<std::uint64_t>(1, detail::timer_milliseconds(period));
    return schedule_timer(period_ms, period_ms, std::move(task));
  }

  // The loop's cached time in milliseconds, updated once per iteration (uv_now).
  std::uint64_t now_ms() const noexcept { return uv_now(&loop_); }

  // Graceful shutdown, started on any thread; see EventLoopGroup::shutdown_gracefully.
  // Listeners stop at once; channels keep working for `quiet`, then close, each given until
  // `timeout` after the start to write what was flushed; then the loop stops.
  void shutdown_gracefully(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  bool is_shutting_down() const noexcept { return shutting_down_.load(std::memory_order_acquire); }
  bool is_terminated() const noexcept { return terminated_.load(std::memory_order_acquire); }

  // Loop thread only: resources (listeners, channels) the loop closes on shutdown.
  void register_resource(LoopResource& resource);
  void unregister_resource(LoopResource& resource);

  LoopMetrics metrics() const noexcept;
  // Loop thread only: counter updates from the transport.
  void count_channel(int delta) noexcept { add(active_channels_, delta); }
  void count_accepted() noexcept { add(accepted_, 1); }
  void count_read(std::size_t bytes) noexcept {
    add(bytes_read_, static_cast<std::int64_t>(bytes));
    add(read_calls_, 1);
  }
  void count_written(std::size_t bytes) noexcept {
    add(bytes_written_, static_cast<std::int64_t>(bytes));
    add(write_calls_, 1);
  }

  // This loop's liveness token: for what may outlive the loop and must not use it then (a
  // ScheduledTask's cancel, a Promise completed late). See detail::LoopLiveness.
  const std::shared_ptr<detail::LoopLiveness>& liveness() const noexcept { return alive_; }

  uv_loop_t* native() noexcept { return &loop_; }
  const std::string& name() const noexcept { return name_; }

 private:
  static void add(std::atomic<std::int64_t>& counter, std::int64_t delta) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
  }

  ScheduledTask schedule_timer(std::uint64_t delay_ms, std::uint64_t period_ms, Task task);
  void prepare_thread();
  // Iterates until stop(), then closes every handle left.
  void run_until_stopped();
  void end_iteration();
  void run_deferred_tasks();
  // Another thread's task: queued unless the loop stopped taking tasks (then `task` is left
  // untouched and false returned).
  bool offer(Task& task);
  void run_queued_tasks();
  void run_local_tasks();
  void begin_shutdown(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  void close_resources_gracefully();
  void check_shutdown_progress();
  void close_all_handles();
  [[noreturn]] void fail_thread_affinity(const char* operation) const noexcept;
  friend struct detail::TimerState;
  friend class detail::LoopLiveness;

  static inline thread_local EventLoop* t_current = nullptr;

  std::string name_;
  mutable uv_loop_t loop_;
  uv_async_t wakeup_;        // other threads' tasks are waiting
  uv_idle_t keep_spinning_;  // active while local tasks wait: the next poll must not block
  // Other threads' tasks. The mutex also orders execute() against the loop's final close of
  // wakeup_, so no thread signals a closed handle.
  std::mutex queue_mutex_;
  std::vector<Task> queue_;        // guarded by queue_mutex_
  bool accepting_tasks_ = true;    // guarded by queue_mutex_
  std::vector<Task> running_;      // batch taken from queue_
  std::vector<Task> local_;        // tasks the loop queued for itself
  std::vector<Task> local_spare_;  // empty, with the capacity of an earlier batch of local_
  std::vector<Task> deferred_;     // what defer() collects
  // Empty, with the capacity of an earlier batch of deferred tasks: deferred_'s next storage.
  std::vector<Task> deferred_spare_;
  std::thread thread_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> shutting_down_{false};
  std::atomic<bool> terminated_{false};
  // See liveness().
  std::shared_ptr<detail::LoopLiveness> alive_ = std::make_shared<detail::LoopLiveness>(this);

  boost::intrusive::list<LoopResource, boost::intrusive::member_hook<
                                           LoopResource, boost::intrusive::list_member_hook<>,
                                           &LoopResource::loop_hook>>
      resources_;
  boost::intrusive::list<
      detail::TimerState,
      boost::intrusive::member_hook<detail::TimerState, boost::intrusive::list_member_hook<>,
                                    &detail::TimerState::loop_hook>>
      timers_;  // started and not yet closed
  ScheduledTask shutdown_timer_;
  ScheduledTask shutdown_progress_;
  Clock::time_point shutdown_deadline_{};
  bool accepting_stopped_ = false;  // begin_shutdown told the resources to stop accepting
  bool closing_resources_ = false;
  // close_all_handles() has begun: a timer started from now on would hold its handle open past
  // the loop's last run (uv_loop_close fails with EBUSY, the timer and its task leak).
  bool closing_handles_ = false;

  std::atomic<std::int64_t> active_channels_{0};
  std::atomic<std::int64_t> accepted_{0};
  std::atomic<std::int64_t> bytes_read_{0};
  std::atomic<std::int64_t> bytes_written_{0};
  std::atomic<std::int64_t> read_calls_{0};
  std::atomic<std::int64_t> write_calls_{0};
};

inline EventLoop* detail::LoopLiveness::loop_if_current() const noexcept {
  EventLoop* current = EventLoop::current();
  // The calling thread's loop is alive; only its destructor (which unbinds the thread first, or
  // runs on another one) changes the address, and only to null.
  return current != nullptr && loop_.load(std::memory_order_acquire) == current ? current : nullptr;
}

}  // namespace sluice
