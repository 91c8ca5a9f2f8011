#include "sluice/core/event_loop.hpp"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <future>
#include <stdexcept>

#include "sluice/core/log.hpp"
#include "sluice/core/loop_thread_hooks.hpp"

namespace sluice {
namespace {

std::vector<LoopThreadHooks>& hook_registry() {
  static std::vector<LoopThreadHooks> hooks;
  return hooks;
}

template <typename Member>
void call_hooks(Member member) {
  for (const LoopThreadHooks& hooks : hook_registry()) {
    if (auto function = hooks.*member) function();
  }
}

// Nothing may throw across a libuv callback: a task that throws is logged and dropped.
void run_guarded(EventLoop::Task& task, const char* what) noexcept {
  try {
    task();
  } catch (...) {
    detail::log_current_exception(what);
  }
}

// Runs the tasks in `queue`, while what they queue collects in `spare`'s storage. The two
// vectors take turns and each keeps its capacity, so steady work allocates nothing. The batch
// is a local: were this re-entered, the nested call could not touch the tasks being run here
// (it would find the spare taken and start an empty vector).
void run_one_batch(std::vector<EventLoop::Task>& queue, std::vector<EventLoop::Task>& spare,
                   const char* what) noexcept {
  std::vector<EventLoop::Task> batch;
  batch.swap(queue);
  queue.swap(spare);  // empty, with the capacity of an earlier batch
  for (EventLoop::Task& task : batch)
    run_guarded(task, what);
  batch.clear();  // the tasks die here, before the next pass
  if (batch.capacity() > spare.capacity()) spare.swap(batch);
}

// sendfile and splice have no MSG_NOSIGNAL: a peer that resets would kill the process with
// SIGPIPE. Blocked on the loop thread, the signal stays pending and the call fails with EPIPE.
void block_sigpipe() noexcept {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

}  // namespace

void detail::log_current_exception(const char* what) noexcept {
  try {
    throw;
  } catch (const std::exception& error) {
    logger().error("{} threw: {}", what, error.what());
  } catch (...) {
    logger().error("{} threw a non-standard exception", what);
  }
}

void add_loop_thread_hooks(const LoopThreadHooks& hooks) {
  hook_registry().push_back(hooks);
}

EventLoop::EventLoop(std::string name) : name_(std::move(name)) {
  if (int rc = uv_loop_init(&loop_); rc != 0) {
    throw std::runtime_error("uv_loop_init: " + std::string(uv_strerror(rc)));
  }
  loop_.data = this;
  uv_async_init(&loop_, &wakeup_, [](uv_async_t* handle) {
    static_cast<EventLoop*>(handle->data)->run_queued_tasks();
  });
  wakeup_.data = this;
  uv_idle_init(&loop_, &keep_spinning_);
  keep_spinning_.data = this;
}

EventLoop::~EventLoop() {
  if (thread_.joinable() && in_loop()) {
    // A destructor cannot refuse by throwing (join() would, and std::terminate would say only
    // that), and going on would free the loop that is running this very call.
    logger().critical(
        "EventLoop {} destroyed on its own thread: a loop cannot wait for its own thread to "
        "end; stop it from a task and destroy it from another thread",
        name_);
    std::abort();
  }
  if (thread_.joinable()) {
    stop();
    join();
  }
  if (!terminated_.load()) {
    // Never ran: close the handles made by the constructor. The work this runs (queued tasks,
    // deferred destructions) belongs to the loop: a loop driven by hand keeps this thread until
    // it is done, or that work would run as if on another thread.
    close_all_handles();
  }
  if (t_current == this) t_current = nullptr;  // a loop driven by hand on this thread
  // The loop takes no more tasks (run() or close_all_handles() saw to it). A thread in
  // alive_->execute() holds the token's mutex until its task is refused; clear() waits for it,
  // and later ones find no loop.
  alive_->clear();
}

void detail::LoopLiveness::clear() noexcept {
  std::lock_guard lock(mutex_);
  loop_.store(nullptr, std::memory_order_release);
}

bool detail::LoopLiveness::execute(unique_function<void()>& task) {
  std::lock_guard lock(mutex_);
  EventLoop* loop = loop_.load(std::memory_order_relaxed);
  return loop != nullptr && loop->offer(task);
}

void EventLoop::bind_to_current_thread() {
  if (t_current != nullptr && t_current != this) {
    throw std::logic_error("EventLoop: this thread already belongs to loop " + t_current->name_);
  }
  t_current = this;
}

void EventLoop::start() {
  std::promise<void> running;
  auto started = running.get_future();
  thread_ = std::thread([this, &running] {
    pthread_setname_np(pthread_self(), name_.substr(0, 15).c_str());
    prepare_thread();
    // Only once the thread is set up: what a caller does next (a test counting the process's
    // descriptors, say) then does not race with the start-up's own (UBSan opens a pipe for a
    // moment the first time this thread meets a type, and the hooks run here).
    running.set_value();
    run_until_stopped();
  });
  started.wait();
}

void EventLoop::run() {
  prepare_thread();
  run_until_stopped();
}

void EventLoop::prepare_thread() {
  bind_to_current_thread();
  block_sigpipe();
  call_hooks(&LoopThreadHooks::thread_started);
  logger().debug("loop {} running", name_);
}

void EventLoop::run_until_stopped() {
  while (!stop_requested_.load(std::memory_order_acquire)) {
    uv_run(&loop_, UV_RUN_ONCE);
    end_iteration();
  }
  // Close what is still open (an abrupt stop), then every handle, then let their close
  // callbacks and the deferred destructions run. Closing can open more (a handler that
  // reconnects from on_inactive, a connect that moves on to the next address, a queued bind):
  // what is opened meanwhile is closed too, in a few rounds at most; a handle closed without
  // its owner's close would leave the owner's fd and references behind.
  {
    std::lock_guard lock(queue_mutex_);
    accepting_tasks_ = false;
  }
  constexpr int kClosingRounds = 8;
  for (int round = 0; round < kClosingRounds; ++round) {
    std::vector<LoopResource*> open;
    for (LoopResource& resource : resources_)
      open.push_back(&resource);
    for (LoopResource* resource : open)
      resource->on_close_now();
    run_queued_tasks();
    end_iteration();
    if (resources_.empty()) break;
  }
  close_all_handles();
  call_hooks(&LoopThreadHooks::thread_ending);
  logger().debug("loop {} stopped", name_);
  terminated_.store(true, std::memory_order_release);
  t_current = nullptr;
}

void EventLoop::run_ready() {
  uv_run(&loop_, UV_RUN_NOWAIT);
  end_iteration();
}

bool EventLoop::has_ready_work() {
  assert_in_loop("EventLoop::has_ready_work");
  if (!local_.empty() || !deferred_.empty()) return true;
  {
    std::lock_guard lock(queue_mutex_);
    if (!queue_.empty()) return true;
  }
  // libuv would not block (0) for a pending or closing handle, or a timer due; it measures
  // the timers against its cached time, which is read again first.
  uv_update_time(&loop_);
  return uv_backend_timeout(&loop_) == 0;
}

void EventLoop::close_all_handles() {
  {
    std::lock_guard lock(queue_mutex_);
    accepting_tasks_ = false;
  }
  closing_handles_ = true;
  while (!timers_.empty())
    timers_.front().close_on_loop();
  uv_walk(
      &loop_,
      [](uv_handle_t* handle, void* loop) {
        if (uv_is_closing(handle)) return;
        auto* self = static_cast<EventLoop*>(loop);
        if (handle != reinterpret_cast<uv_handle_t*>(&self->wakeup_) &&
            handle != reinterpret_cast<uv_handle_t*>(&self->keep_spinning_)) {
          logger().warn("loop {}: closing a {} handle left open", self->name_,
                        uv_handle_type_name(handle->type));
        }
        uv_close(handle, nullptr);
      },
      this);
  uv_run(&loop_, UV_RUN_DEFAULT);
  end_iteration();
  // From here on execute() refuses, as it promises once the loop has stopped; what it accepted
  // until now (a task queued by the one that just ran) still runs.
  terminated_.store(true, std::memory_order_release);
  // Bounded: a task that defers itself again and again must not hold the thread forever.
  for (int round = 0; round < 64 && (!local_.empty() || !deferred_.empty()); ++round)
    end_iteration();
  if (int rc = uv_loop_close(&loop_); rc != 0) {
    logger().error("loop {}: uv_loop_close: {}", name_, uv_strerror(rc));
  }
  terminated_.store(true, std::memory_order_release);
}

void EventLoop::stop() {
  stop_requested_.store(true, std::memory_order_release);
  std::lock_guard lock(queue_mutex_);
  if (accepting_tasks_) uv_async_send(&wakeup_);
}

void EventLoop::join() {
  if (in_loop()) throw std::logic_error("EventLoop::join called on its own thread");
  if (thread_.joinable()) thread_.join();
}

bool EventLoop::execute(Task task) {
  if (in_loop()) {
    if (terminated_.load(std::memory_order_relaxed)) return false;
    local_.push_back(std::move(task));
    const auto* spinning = reinterpret_cast<const uv_handle_t*>(&keep_spinning_);
    if (!uv_is_active(spinning) && !uv_is_closing(spinning)) {
      uv_idle_start(&keep_spinning_, [](uv_idle_t*) {});
    }
    return true;
  }
  return offer(task);
}

bool EventLoop::offer(Task& task) {
  std::lock_guard lock(queue_mutex_);
  if (!accepting_tasks_) return false;
  queue_.push_back(std::move(task));
  if (queue_.size() == 1) uv_async_send(&wakeup_);
  return true;
}

void EventLoop::defer(Task task) {
  assert_in_loop("EventLoop::defer");
  deferred_.push_back(std::move(task));
}

void EventLoop::fail_thread_affinity(const char* operation) const noexcept {
  logger().critical(
      "{} called off the thread of loop {}: loop-bound objects are used on their "
      "loop's thread only",
      operation, name_);
  std::abort();
}

void EventLoop::run_queued_tasks() {
  {
    std::lock_guard lock(queue_mutex_);
    running_.swap(queue_);
  }
  for (Task& task : running_)
    run_guarded(task, "a task");
  running_.clear();
}

void EventLoop::run_local_tasks() {
  // Tasks may queue more; those run in the next pass, after libuv has polled once.
  run_one_batch(local_, local_spare_, "a task");
  if (local_.empty()) uv_idle_stop(&keep_spinning_);
}

void EventLoop::run_deferred_tasks() {
  // Tasks deferred meanwhile (by these tasks or by their destructors) run in the next pass,
  // still in this iteration.
  while (!deferred_.empty())
    run_one_batch(deferred_, deferred_spare_, "a deferred task");
}

void EventLoop::end_iteration() {
  if (!local_.empty()) run_local_tasks();
  run_deferred_tasks();
  call_hooks(&LoopThreadHooks::iteration_ended);
}

ScheduledTask EventLoop::schedule_timer(std::uint64_t delay_ms, std::uint64_t period_ms,
                                        Task task) {
  Ref<detail::TimerState> state(new detail::TimerState);
  state->task = std::move(task);
  state->loop = alive_;
  state->delay_ms = delay_ms;
  state->period_ms = period_ms;
  if (!dispatch([state] { state->start_on_loop(); })) {
    state->cancelled.store(true, std::memory_order_release);
    // No loop will ever release it, and the handle may be kept for long.
    state->task = nullptr;
  }
  return ScheduledTask(state);
}

void detail::TimerState::start_on_loop() {
  if (started) return;
  EventLoop* owner = loop->loop_on_its_thread();
  if (cancelled.load(std::memory_order_acquire)) {
    // Cancelled before it started: no close callback will release the task, and the handle may
    // outlive this, to be dropped on another thread.
    task = nullptr;
    return;
  }
  if (owner->closing_handles_) {
    // Scheduled while the loop closes its last handles (by a close callback, a deferred
    // destruction): it would never fire, and its open handle would keep the loop from closing.
    // Like a task executed after the loop stopped, it is dropped; its task is released here.
    cancelled.store(true, std::memory_order_release);
    task = nullptr;
    return;
  }
  started = true;
  uv_timer_init(owner->native(), &timer);
  timer.data = this;
  intrusive_ptr_add_ref(this);  // held by the open handle
  owner->timers_.push_back(*this);
  // libuv counts the delay from the loop's cached time, read when the iteration began: after a
  // long callback it lies in the past, and the timer would fall due early, or at once.
  uv_update_time(owner->native());
  uv_timer_start(
      &timer,
      [](uv_timer_t* handle) {
        auto* self = static_cast<TimerState*>(handle->data);
        Ref<TimerState> keep(self);
        if (!self->cancelled.load(std::memory_order_acquire)) self->run_task();
        if (self->period_ms == 0 || self->cancelled.load(std::memory_order_acquire)) {
          self->close_on_loop();
        }
      },
      delay_ms, period_ms);
}

void detail::TimerState::run_task() noexcept {
  try {
    task();
  } catch (...) {
    // Dropped, as any task that throws: a periodic one would otherwise fail again at every
    // tick, filling the log for as long as the process runs.
    log_current_exception(period_ms == 0 ? "a timer" : "a periodic timer (cancelled)");
    cancelled.store(true, std::memory_order_release);
  }
}

void detail::TimerState::close_on_loop() {
  if (!started || closed) return;
  closed = true;
  uv_timer_stop(&timer);
  EventLoop* owner = loop->loop_on_its_thread();
  owner->timers_.erase(owner->timers_.iterator_to(*this));
  uv_close(reinterpret_cast<uv_handle_t*>(&timer), [](uv_handle_t* handle) {
    auto* self = static_cast<TimerState*>(handle->data);
    self->task = nullptr;  // release what the task holds on the loop thread
    intrusive_ptr_release(self);
  });
}

void ScheduledTask::cancel() {
  if (!state_) return;
  state_->cancelled.store(true, std::memory_order_release);
  if (state_->loop->loop_if_current() != nullptr) {
    state_->close_on_loop();
    return;
  }
  // From another thread, through the token: the loop cannot be destroyed while the close is
  // being queued to it. Refused, there is nothing to close: a loop that stopped taking tasks
  // closes its timers itself, and a destroyed one has closed them.
  EventLoop::Task close([state = state_] { state->close_on_loop(); });
  (void)state_->loop->execute(close);
}

// --- graceful shutdown -----------------------------------------------------------------------

void EventLoop::register_resource(LoopResource& resource) {
  assert_in_loop("EventLoop::register_resource");
  resources_.push_back(resource);
  if (accepting_stopped_ || closing_resources_) {
    // Registered after the shutdown began: a listener must stop accepting at once too, and once
    // channels are closing, a new one closes as well. By the end of the iteration the resource
    // may be gone (opened and closed at once, as a bind that failed on another loop): ask it
    // only if it is still registered.
    defer([this, added = &resource, closing = closing_resources_] {
      for (LoopResource& open : resources_) {
        if (&open == added) {
          if (closing) {
            open.on_close_gracefully();
          } else {
            open.on_stop_accepting();
          }
          return;
        }
      }
    });
  }
}

void EventLoop::unregister_resource(LoopResource& resource) {
  if (resource.loop_hook.is_linked()) resources_.erase(resources_.iterator_to(resource));
}

void EventLoop::shutdown_gracefully(std::chrono::milliseconds quiet,
                                    std::chrono::milliseconds timeout) {
  if (shutting_down_.exchange(true, std::memory_order_acq_rel)) return;
  // "As long as it takes" (milliseconds::max()) would overflow the deadline and the timer's
  // nanoseconds, and come out as a deadline already past: a year is as long.
  constexpr std::chrono::milliseconds kLongest = std::chrono::hours(24 * 365);
  quiet = std::clamp(quiet, std::chrono::milliseconds(0), kLongest);
  timeout = std::clamp(timeout, std::chrono::milliseconds(0), kLongest);
  if (!dispatch([this, quiet, timeout] { begin_shutdown(quiet, timeout); })) stop();
}

void EventLoop::begin_shutdown(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) {
  shutdown_deadline_ = Clock::now() + timeout;
  accepting_stopped_ = true;
  std::vector<LoopResource*> open;
  for (LoopResource& resource : resources_)
    open.push_back(&resource);
  for (LoopResource* resource : open)
    resource->on_stop_accepting();
  shutdown_timer_ = schedule(std::min(quiet, timeout), [this] { close_resources_gracefully(); });
}

void EventLoop::close_resources_gracefully() {
  closing_resources_ = true;
  std::vector<LoopResource*> open;
  for (LoopResource& resource : resources_)
    open.push_back(&resource);
  for (LoopResource* resource : open)
    resource->on_close_gracefully();
  shutdown_progress_ =
      schedule_every(std::chrono::milliseconds(5), [this] { check_shutdown_progress(); });
  check_shutdown_progress();
}

void EventLoop::check_shutdown_progress() {
  if (resources_.empty()) {
    shutdown_progress_.cancel();
    stop();
    return;
  }
  if (Clock::now() >= shutdown_deadline_) {
    logger().debug("loop {}: shutdown deadline passed with {} resources open", name_,
                   resources_.size());
    std::vector<LoopResource*> open;
    for (LoopResource& resource : resources_)
      open.push_back(&resource);
    for (LoopResource* resource : open)
      resource->on_close_now();
  }
}

LoopMetrics EventLoop::metrics() const noexcept {
  LoopMetrics metrics;
  metrics.active_channels = active_channels_.load(std::memory_order_relaxed);
  metrics.accepted = accepted_.load(std::memory_order_relaxed);
  metrics.bytes_read = bytes_read_.load(std::memory_order_relaxed);
  metrics.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  metrics.read_calls = read_calls_.load(std::memory_order_relaxed);
  metrics.write_calls = write_calls_.load(std::memory_order_relaxed);
  return metrics;
}

}  // namespace sluice
