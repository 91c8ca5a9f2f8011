#pragma once

#include <exception>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "sluice/core/core_error.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/result.hpp"

namespace sluice {

namespace detail {

template <typename R>
struct SubmittedValue {
  using type = R;
};
template <typename T>
struct SubmittedValue<Result<T>> {
  using type = T;
};

}  // namespace detail

// What the future of submit(loop, task) holds: what `task` returns, or T for a Result<T>. A
// reference returned is copied on the loop: what it refers to belongs to the loop's thread.
template <typename Task>
using submitted_value_t =
    typename detail::SubmittedValue<std::remove_cvref_t<std::invoke_result_t<Task&>>>::type;

// Any thread: runs `task` on `loop` and completes the returned future with what it returns, a
// value, nothing (void), or a Result<T> whose error fails the future. It is queued as
// EventLoop::execute queues, after the current callback, even from the loop's own thread. A
// task that throws fails the future with the exception as an Error (CoreErrc::task_exception
// for one that carries no code); a loop that no longer takes tasks fails it at once with
// std::errc::operation_canceled. The future's callbacks run on `loop`:
//
//   std::size_t open = submit(loop, [&] { return registry.size(); }).get();  // from main()
template <typename Task>
[[nodiscard]] Future<submitted_value_t<Task>> submit(EventLoop& loop, Task task) {
  using T = submitted_value_t<Task>;
  using Returned = std::remove_cvref_t<std::invoke_result_t<Task&>>;
  Promise<T> promise(&loop);
  Future<T> future = promise.future();
  const bool queued = loop.execute([promise, task = std::move(task)]() mutable {
    try {
      if constexpr (std::is_void_v<Returned>) {
        task();
        promise.set_value();
      } else if constexpr (std::is_same_v<Returned, Result<T>>) {
        promise.set_result(Result<T>(task()));
      } else {
        promise.set_value(T(task()));
      }
    } catch (...) {
      promise.set_error(error_from_exception(std::current_exception(),
                                             make_error_code(CoreErrc::task_exception)));
    }
  });
  if (!queued) {
    promise.set_error(Error(std::make_error_code(std::errc::operation_canceled),
                            "submit: the event loop " + loop.name() + " is stopping"));
  }
  return future;
}

}  // namespace sluice
