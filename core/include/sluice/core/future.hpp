#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

#include "sluice/core/error.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/result.hpp"
#include "sluice/core/unique_function.hpp"

namespace sluice {

template <typename T>
class Future;

namespace detail {

template <typename T>
struct FutureState : std::enable_shared_from_this<FutureState<T>> {
  using Callback = unique_function<void(const Result<T>&)>;

  explicit FutureState(EventLoop* owner) : loop(owner != nullptr ? owner->liveness() : nullptr) {}

  // Where callbacks run: the loop's liveness token, or null for the completing thread. A
  // promise may be completed, or dropped, after its loop; off the loop's thread, the loop is
  // reached only through the token.
  const std::shared_ptr<LoopLiveness> loop;
  // True on the thread running the future's loop.
  bool on_own_loop() const noexcept {
    return loop != nullptr && loop->loop_if_current() != nullptr;
  }
  std::mutex mutex;
  std::condition_variable done;
  std::optional<Result<T>> result;  // set once, under mutex; read-only afterwards
  std::vector<Callback> callbacks;
  // Promises sharing this state: the last one to go without a result breaks the promise.
  std::atomic<std::size_t> promises{1};

  bool complete(Result<T> value) {
    {
      std::lock_guard lock(mutex);
      if (result) return false;
      result.emplace(std::move(value));
    }
    done.notify_all();
    run_callbacks();
    return true;
  }

  // then(): runs at once when the result is there, else when it arrives.
  void add(Callback callback) {
    {
      std::lock_guard lock(mutex);
      callbacks.push_back(std::move(callback));
      if (!result) return;
    }
    run_callbacks();
  }

  // With the result there: runs the callbacks on the loop, in the order they were registered
  // (inline when already there, else queued to it; inline as a last resort when the loop no
  // longer runs tasks or is gone). While a run is queued or under way, callbacks registered
  // meanwhile join it, so one registered later never overtakes one registered earlier.
  void run_callbacks() {
    {
      std::lock_guard lock(mutex);
      if (draining || callbacks.empty()) return;
      draining = true;
    }
    if (loop == nullptr || on_own_loop()) {
      drain();
      return;
    }
    // Another thread: the token keeps the loop from being destroyed while the run is queued.
    // Refused, the callbacks run here, after the token is let go (they may complete another
    // promise of the same loop).
    EventLoop::Task run([self = this->shared_from_this()] { self->drain(); });
    if (!loop->execute(run)) drain();
  }

  void drain() noexcept {
    for (;;) {
      std::vector<Callback> batch;
      {
        std::lock_guard lock(mutex);
        if (callbacks.empty()) {
          draining = false;
          return;
        }
        batch.swap(callbacks);
      }
      for (Callback& callback : batch) {
        // One callback's failure is not the others' (nor the completing caller's: set_value
        // may be called from a transport's libuv callback, which nothing may throw across).
        try {
          callback(*result);
        } catch (...) {
          log_current_exception("a Future::then callback");
        }
      }
    }
  }

  bool draining = false;  // guarded by mutex: a run of the callbacks is queued or under way
};

}  // namespace detail

// The writing side of a Future. Completing twice is ignored (the first result wins). Keep the
// Promise alive until a completing call on another thread has returned. Copies share one
// result; when the last of them is destroyed without one, the future fails with
// std::future_errc::broken_promise, so waiters and then() callbacks hear of it rather than
// wait for ever.
template <typename T>
class Promise {
 public:
  // Callbacks of the future run on `loop` (any thread when nullptr).
  explicit Promise(EventLoop* loop = nullptr)
      : state_(std::make_shared<detail::FutureState<T>>(loop)) {}
  Promise(const Promise& other) noexcept : state_(other.state_) {
    if (state_) state_->promises.fetch_add(1, std::memory_order_relaxed);
  }
  Promise(Promise&& other) noexcept = default;
  Promise& operator=(Promise other) noexcept {
    state_.swap(other.state_);
    return *this;
  }
  ~Promise() {
    if (state_ && state_->promises.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      state_->complete(Result<T>(Error(std::future_errc::broken_promise,
                                       "the last Promise was destroyed without a result")));
    }
  }

  [[nodiscard]] Future<T> future() const { return Future<T>(state_); }

  template <typename U = T>
  requires(!std::is_void_v<U>) bool set_value(U value) {
    return state_->complete(Result<T>(std::move(value)));
  }
  template <typename U = T>
  requires std::is_void_v<U>
  bool set_value() { return state_->complete(Result<void>()); }
  bool set_error(Error error) { return state_->complete(Result<T>(std::move(error))); }
  bool set_result(Result<T> result) { return state_->complete(std::move(result)); }
  bool is_done() const {
    std::lock_guard lock(state_->mutex);
    return state_->result.has_value();
  }

 private:
  std::shared_ptr<detail::FutureState<T>> state_;
};

// A result that arrives later, bound to an event loop: callbacks given to then() run on that
// loop's thread. wait() and get() block, so they are for threads that are not loops (main()
// waiting for bind(), tests): on any loop thread they throw, ready or not, since a wait that
// happens to find its result there would stall every channel of the loop on another run (and
// deadlock on the future's own loop). Loops use then().
// The class is not [[nodiscard]]: some futures only say when something is done, and may be
// dropped (Server::close()'s). The functions whose future is the only news of an error
// (bind(), connect()), and the getters that only make one (Promise::future(),
// close_future()), are [[nodiscard]] themselves: dropping those futures loses an error or is
// a mistake.
template <typename T>
class Future {
 public:
  Future() = default;

  bool valid() const noexcept { return static_cast<bool>(state_); }
  bool is_ready() const {
    std::lock_guard lock(state_->mutex);
    return state_->result.has_value();
  }

  // Calls `callback(result)` on the loop once the result is there (at once if it already is,
  // this is the loop thread and no earlier callback still waits), in registration order. What a
  // callback throws is logged; the callbacks after it still run.
  void then(unique_function<void(const Result<T>&)> callback) { state_->add(std::move(callback)); }

  // Blocks until the result is there and returns it.
  const Result<T>& wait() const& {
    check_not_on_loop();
    std::unique_lock lock(state_->mutex);
    state_->done.wait(lock, [this] { return state_->result.has_value(); });
    return *state_->result;
  }
  // On a temporary (`connect(...).wait()`) the result is returned by copy: the future may be
  // the result's last owner, so a reference would dangle at the end of the statement.
  Result<T> wait() && { return std::as_const(*this).wait(); }
  // Blocks up to `timeout`; true when the result is there. A timeout of a century or more
  // (milliseconds::max(), hours::max()) waits as long as it takes.
  template <typename Rep, typename Period>
  bool wait_for(std::chrono::duration<Rep, Period> timeout) const {
    check_not_on_loop();
    std::unique_lock lock(state_->mutex);
    const auto ready = [this] { return state_->result.has_value(); };
    // The condition variable adds the timeout to the clock's now in nanoseconds: one that long
    // would overflow into a deadline already past, and the wait would give up at once.
    constexpr std::chrono::hours kNoLimit(24 * 365 * 100);
    if (timeout >= kNoLimit) {
      state_->done.wait(lock, ready);
      return true;
    }
    return state_->done.wait_for(lock, timeout, ready);
  }
  // wait(), then the value; an error is thrown as an Exception.
  decltype(auto) get() const& {
    if constexpr (std::is_void_v<T>) {
      wait().value();
    } else {
      return wait().value();
    }
  }
  // By copy on a temporary, as wait() &&: `auto& channel = connect(...).get()` must not dangle.
  T get() && { return std::as_const(*this).get(); }

 private:
  template <typename>
  friend class Promise;
  explicit Future(std::shared_ptr<detail::FutureState<T>> state) : state_(std::move(state)) {}

  void check_not_on_loop() const {
    if (EventLoop::current() == nullptr) return;
    if (state_->on_own_loop()) {
      throw std::logic_error("Future::wait on its own event loop would deadlock");
    }
    throw std::logic_error(
        "Future::wait on an event loop thread would stall its channels; use then()");
  }

  std::shared_ptr<detail::FutureState<T>> state_;
};

}  // namespace sluice
