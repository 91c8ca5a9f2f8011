#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "sluice/core/event_loop.hpp"
#include "sluice/core/event_loop_group.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/loop_resource.hpp"
#include "support/allocation_hooks.hpp"
#include "support/child_process.hpp"

using namespace std::chrono_literals;
using sluice::EventLoop;
using sluice::test::ChildOutcome;
using sluice::test::run_in_child;

using sluice::test::allocations_made;  // counted by support/allocation_hooks.cpp

namespace {

// Waits (bounded) until `done` holds; tests never hang on a broken loop.
template <typename Predicate>
bool eventually(Predicate done, std::chrono::milliseconds limit = 5000ms) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Runs `iteration` 3 times, so that the loop's vectors grow to what it needs, then 100 times
// more: the allocations made by those 100.
template <typename Iteration>
std::size_t allocations_once_warm(Iteration& iteration) {
  for (int i = 0; i < 3; ++i)
    iteration();
  const std::size_t before = allocations_made;
  for (int i = 0; i < 100; ++i)
    iteration();
  return allocations_made - before;
}

}  // namespace

TEST_CASE("tasks executed from another thread run on the loop thread in order") {
  EventLoop loop("test-loop");
  loop.start();
  std::vector<int> order;
  std::atomic<bool> wrong_thread{false};
  sluice::Promise<void> done;
  for (int i = 0; i < 100; ++i) {
    loop.execute([&, i] {
      if (!loop.in_loop()) wrong_thread = true;
      order.push_back(i);
      if (i == 99) done.set_value();
    });
  }
  CHECK(done.future().wait_for(5s));
  loop.stop();
  loop.join();
  CHECK_FALSE(wrong_thread);
  REQUIRE(order.size() == 100);
  for (int i = 0; i < 100; ++i)
    CHECK(order[static_cast<std::size_t>(i)] == i);
}

TEST_CASE("a task executed from the loop itself runs after the current one, without blocking") {
  EventLoop loop;
  loop.start();
  sluice::Promise<int> result;
  loop.execute([&] {
    auto step = std::make_shared<int>(1);
    loop.execute([&result, step] { result.set_value(*step); });
    *step = 2;  // the nested task runs after this one returns, so it sees 2
  });
  CHECK(result.future().get() == 2);
  loop.stop();
  loop.join();
}

TEST_CASE("a scheduled task runs once after its delay, and a cancelled one never runs") {
  EventLoop loop;
  loop.start();
  std::atomic<int> ran{0};
  std::atomic<int> cancelled_ran{0};
  const auto start = std::chrono::steady_clock::now();
  std::atomic<std::int64_t> elapsed_ms{-1};
  loop.schedule(20ms, [&] {
    elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count();
    ++ran;
  });
  auto cancelled = loop.schedule(30ms, [&] { ++cancelled_ran; });
  cancelled.cancel();
  CHECK(eventually([&] { return ran.load() == 1; }));
  std::this_thread::sleep_for(60ms);
  loop.stop();
  loop.join();
  CHECK(ran == 1);
  CHECK(cancelled_ran == 0);
  CHECK(elapsed_ms >= 19);  // not early; how late it is depends on the machine
  CHECK(cancelled.is_cancelled());
}

TEST_CASE("a periodic task repeats until cancelled") {
  EventLoop loop;
  loop.start();
  std::atomic<int> runs{0};
  auto ticker = loop.schedule_every(2ms, [&] { ++runs; });
  CHECK(eventually([&] { return runs.load() >= 3; }));
  ticker.cancel();
  // A run that had begun before the cancel finishes: a task queued now runs after it, so
  // that the count below is taken once it is done (a pause could end before it is).
  sluice::Promise<void> passed;
  loop.execute([&passed] { passed.set_value(); });
  CHECK(passed.future().wait_for(5s));
  const int after_cancel = runs.load();
  std::this_thread::sleep_for(20ms);
  CHECK(runs.load() == after_cancel);
  loop.stop();
  loop.join();
}

// A delay is taken as nanoseconds: milliseconds::max(), seconds::max() or hours::max() (the
// usual "never" or "as long as it takes") overflowed in the conversion into a negative delay
// (UBSan reports it), which ran the task at once instead of never.
TEST_CASE("a delay or period too long to count waits for ever instead of running at once") {
  EventLoop loop("huge-delay");
  loop.start();
  std::atomic<int> ran{0};
  std::vector<sluice::ScheduledTask> huge;
  huge.push_back(loop.schedule(std::chrono::milliseconds::max(), [&] { ++ran; }));
  huge.push_back(loop.schedule(std::chrono::seconds::max(), [&] { ++ran; }));
  huge.push_back(loop.schedule(std::chrono::hours::max(), [&] { ++ran; }));
  huge.push_back(loop.schedule(std::chrono::duration<double>(1e300), [&] { ++ran; }));
  huge.push_back(loop.schedule_every(std::chrono::milliseconds::max(), [&] { ++ran; }));
  huge.push_back(loop.schedule_every(std::chrono::hours::max(), [&] { ++ran; }));
  // Timers fire in the order they fall due: one that fell due at once would run before this.
  sluice::Promise<int> later;
  loop.schedule(20ms, [&] { later.set_value(ran.load()); });
  auto seen = later.future();
  REQUIRE(seen.wait_for(5s));
  CHECK(seen.get() == 0);
  for (sluice::ScheduledTask& task : huge)
    task.cancel();
  loop.stop();
  loop.join();
  CHECK(ran.load() == 0);
}

// Fractions of a millisecond round up (a timer never fires before its delay), negative delays
// are no delay, and a period under a millisecond is one.
TEST_CASE("delays of any duration type are rounded up to the loop clock's milliseconds") {
  EventLoop loop("small-delays");
  loop.start();
  std::atomic<int> ran{0};
  loop.schedule(-5s, [&] { ++ran; });
  loop.schedule(std::chrono::nanoseconds(1), [&] { ++ran; });
  loop.schedule(std::chrono::duration<double, std::milli>(0.25), [&] { ++ran; });
  auto ticker = loop.schedule_every(std::chrono::nanoseconds(0), [&] { ++ran; });
  CHECK(eventually([&] { return ran.load() >= 5; }));
  ticker.cancel();
  loop.stop();
  loop.join();
}

// A timer counted its delay from the loop's cached time, read once per iteration: scheduled at
// the end of a long iteration, it was due the moment it started and ran at once, its delay
// spent before it was asked for.
TEST_CASE("a delay counts from the schedule() call, not from the start of a busy iteration") {
  EventLoop loop("stale-clock");
  loop.start();
  using Clock = std::chrono::steady_clock;
  std::atomic<std::int64_t> waited_ms{-1};
  loop.execute([&] {
    std::this_thread::sleep_for(100ms);  // a long iteration: the loop's time is 100 ms behind
    const Clock::time_point asked = Clock::now();
    loop.schedule(50ms, [&waited_ms, asked] {
      waited_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - asked).count();
    });
  });
  CHECK(eventually([&] { return waited_ms.load() >= 0; }));
  loop.stop();
  loop.join();
  // Not early, to within the loop clock's millisecond (libuv's coarse clock may lag one more).
  CHECK(waited_ms.load() >= 48);
}

// A periodic task that threw was logged and run again, every period, for ever: one that fails
// each time filled the log at every tick. Like any task that throws, it is dropped.
TEST_CASE("a periodic task that throws is logged once and runs no more") {
  EventLoop loop("periodic-throws");
  loop.start();
  std::atomic<int> runs{0};
  sluice::ScheduledTask failing = loop.schedule_every(1ms, [&] {
    ++runs;
    throw std::runtime_error("periodic failure");
  });
  std::atomic<int> healthy_runs{0};
  sluice::ScheduledTask healthy = loop.schedule_every(1ms, [&] { ++healthy_runs; });
  // A timer runs at most once per pass over the due timers, so a task that kept running would
  // run once for each of the healthy one's runs.
  CHECK(eventually([&] { return healthy_runs.load() >= 20; }));
  CHECK(runs.load() == 1);
  CHECK(failing.is_cancelled());
  healthy.cancel();
  loop.stop();
  loop.join();
}

TEST_CASE("execute after the loop stopped is refused") {
  EventLoop loop;
  loop.start();
  loop.stop();
  loop.join();
  CHECK(loop.is_terminated());
  CHECK_FALSE(loop.execute([] {}));
}

TEST_CASE("a task that throws is logged and the loop goes on") {
  EventLoop loop;
  loop.start();
  loop.execute([] { throw std::runtime_error("boom"); });
  sluice::Promise<void> after;
  loop.execute([&] { after.set_value(); });
  CHECK(after.future().wait_for(5s));
  loop.stop();
  loop.join();
}

TEST_CASE("deferred work runs at the end of the iteration that deferred it") {
  EventLoop loop;
  loop.start();
  std::vector<int> order;
  sluice::Promise<void> done;
  loop.execute([&] {
    loop.defer([&] {
      order.push_back(2);
      done.set_value();
    });
    order.push_back(1);
  });
  CHECK(done.future().wait_for(5s));
  loop.stop();
  loop.join();
  CHECK(order == std::vector<int>{1, 2});
}

// Each pass over the deferred tasks took them into a vector of its own and left none behind:
// every iteration that deferred anything allocated the storage again, and grew it as it filled.
// A task deferred by a deferred task still runs in the same iteration, after the others.
TEST_CASE("deferring in every iteration allocates nothing once warmed up") {
  EventLoop loop("defer-steady");
  loop.bind_to_current_thread();
  int ran = 0;
  int nested_ran = 0;
  int nested_late = 0;  // nested tasks that had not run when their iteration ended
  auto iteration = [&] {
    const int nested_before = nested_ran;
    loop.defer([&] {
      ++ran;
      loop.defer([&] { ++nested_ran; });
    });
    for (int i = 0; i < 15; ++i)
      loop.defer([&] { ++ran; });
    loop.run_ready();
    if (nested_ran != nested_before + 1) ++nested_late;
  };
  CHECK(allocations_once_warm(iteration) == 0);
  CHECK(ran == 16 * 103);
  CHECK(nested_ran == 103);
  CHECK(nested_late == 0);
}

// A pass over the loop's own tasks freed its vector whenever a task queued another, so a task
// that re-queues itself (a handler draining work a slice per iteration) allocated every time.
TEST_CASE("a loop task that queues another in every iteration allocates nothing once warmed up") {
  EventLoop loop("local-steady");
  loop.bind_to_current_thread();
  int ran = 0;
  auto iteration = [&] {
    for (int i = 0; i < 8; ++i)
      loop.execute([&] {
        ++ran;
        loop.execute([&] { ++ran; });
      });
    loop.run_ready();  // the eight, which queue eight more
    loop.run_ready();  // those eight
  };
  CHECK(allocations_once_warm(iteration) == 0);
  CHECK(ran == 16 * 103);
}

TEST_CASE("future callbacks run on the loop, and wait on the loop's own thread throws") {
  EventLoop loop;
  loop.start();
  sluice::Promise<int> promise(&loop);
  std::atomic<bool> on_loop{false};
  sluice::Promise<void> seen;
  promise.future().then([&](const sluice::Result<int>& result) {
    on_loop = loop.in_loop() && result.ok() && *result == 7;
    seen.set_value();
  });
  std::thread([&] { promise.set_value(7); }).join();
  CHECK(seen.future().wait_for(5s));
  CHECK(on_loop);
  CHECK(promise.future().get() == 7);
  sluice::Promise<bool> threw;
  loop.execute([&] {
    try {
      (void)promise.future().wait();
      threw.set_value(false);
    } catch (const std::logic_error&) {
      threw.set_value(true);
    }
  });
  CHECK(threw.future().get());
  loop.stop();
  loop.join();
}

TEST_CASE("waiting on any loop thread throws, even for another loop's future") {
  EventLoop waiter;
  EventLoop other;
  waiter.start();
  other.start();
  sluice::Promise<int> pending(&other);
  sluice::Promise<int> ready(&other);
  ready.set_value(1);
  sluice::Promise<int> threw;
  waiter.execute([&] {
    int count = 0;
    try {
      (void)pending.future().wait_for(10ms);
    } catch (const std::logic_error&) {
      ++count;
    }
    try {
      (void)ready.future().get();  // ready now, but the same call could block on another run
    } catch (const std::logic_error&) {
      ++count;
    }
    threw.set_value(count);
  });
  CHECK(threw.future().get() == 2);
  pending.set_value(2);
  waiter.stop();
  other.stop();
  waiter.join();
  other.join();
}

TEST_CASE("a temporary future gives its value by copy, a named one by reference") {
  using sluice::Future;
  static_assert(std::is_same_v<decltype(std::declval<Future<int>>().get()), int>);
  static_assert(std::is_same_v<decltype(std::declval<Future<int>&>().get()), const int&>);
  static_assert(std::is_same_v<decltype(std::declval<Future<int>>().wait()), sluice::Result<int>>);
  static_assert(
      std::is_same_v<decltype(std::declval<Future<int>&>().wait()), const sluice::Result<int>&>);
  // The temporary is the result's last owner once the promise is gone.
  auto make = [] {
    sluice::Promise<std::vector<int>> promise;
    promise.set_value(std::vector<int>{1, 2, 3});
    return promise.future();
  };
  const std::vector<int>& kept = make().get();  // lifetime-extended copy, not a dangling view
  CHECK(kept == std::vector<int>{1, 2, 3});
}

// wait_for() passed its timeout to the condition variable, which adds it to the clock's now in
// nanoseconds: milliseconds::max() or hours::max(), the usual "no limit", overflowed into a
// deadline already past (UBSan reports it) and the wait gave up at once, its result on the way.
TEST_CASE("a wait for a future with a timeout too long to count waits for the result") {
  sluice::Promise<int> first;
  sluice::Promise<int> second;
  auto first_future = first.future();
  auto second_future = second.future();
  // Completed a while after the waits begin: a wait that gives up at once sees no result.
  std::thread completer([&] {
    std::this_thread::sleep_for(50ms);
    first.set_value(1);
    std::this_thread::sleep_for(50ms);
    second.set_value(2);
  });
  const bool first_ready = first_future.wait_for(std::chrono::milliseconds::max());
  const bool second_ready = second_future.wait_for(std::chrono::hours::max());
  completer.join();
  CHECK(first_ready);
  CHECK(second_ready);
  CHECK(first_future.get() == 1);
  CHECK(second_future.get() == 2);
}

TEST_CASE("a future completed with an error throws it from get") {
  sluice::Promise<int> promise;
  promise.set_error(sluice::Error::from_errno(ETIMEDOUT, "connect"));
  CHECK_FALSE(promise.set_value(1));  // the first result wins
  CHECK_THROWS_AS(promise.future().get(), sluice::Exception);
}

TEST_CASE("an event loop group hands out its loops round-robin and shuts down") {
  sluice::EventLoopGroup group(3, "rr");
  EventLoop* first = &group.next();
  EventLoop* second = &group.next();
  EventLoop* third = &group.next();
  CHECK(first != second);
  CHECK(second != third);
  CHECK(&group.next() == first);
  group.shutdown_gracefully(0ms, 1s);
  CHECK(group.is_terminated());
}

TEST_CASE("a shutdown refused on a loop thread leaves the group to the real one") {
  // The refused call used to mark the group shut down: the call from main then did nothing.
  sluice::EventLoopGroup group(1, "refused");
  std::promise<bool> refused;
  group.at(0).execute([&] {
    try {
      group.shutdown_gracefully();
      refused.set_value(false);
    } catch (const std::logic_error&) {
      refused.set_value(true);
    }
  });
  CHECK(refused.get_future().get());
  CHECK_FALSE(group.is_terminated());
  group.shutdown_gracefully();
  CHECK(group.is_terminated());
}

TEST_CASE("a shutdown given all the time there is ends at once when nothing is open") {
  // milliseconds::max() used to overflow into a deadline already past (UBSan reports it).
  sluice::EventLoopGroup group(2, "unbounded");
  group.shutdown_gracefully(0ms, std::chrono::milliseconds::max());
  CHECK(group.is_terminated());
}

TEST_CASE("a loop driven by hand and destroyed gives its thread back") {
  {
    auto loop = std::make_unique<EventLoop>("by-hand");
    loop->bind_to_current_thread();
    loop->run_ready();
  }
  // The thread used to still belong to the destroyed loop.
  CHECK(EventLoop::current() == nullptr);
  EventLoop next("next");
  next.bind_to_current_thread();
  next.run_ready();
}

// A loop driven by hand and destroyed runs the work still queued on it as it closes; it gave the
// thread up first, so that work ran off its loop: in_loop() false, defer() aborting, execute()
// refused.
TEST_CASE("a loop driven by hand runs what is left on its own thread as it is destroyed") {
  bool ran_in_loop = false;
  bool deferred_ran = false;
  {
    EventLoop loop("by-hand-left");
    loop.bind_to_current_thread();
    loop.execute([&] {
      ran_in_loop = loop.in_loop();
      if (ran_in_loop) loop.defer([&deferred_ran] { deferred_ran = true; });
    });
  }
  CHECK(ran_in_loop);
  CHECK(deferred_ran);
  CHECK(EventLoop::current() == nullptr);
}

// execute() promises: "Returns false (and drops the task) once the loop has stopped". A task
// the loop queues for itself while it is stopping is accepted (true) but, past a short chain,
// never runs: the closing phase runs only one batch of local tasks per round. A promise it
// carries is never completed, so whoever waits on it hangs.
TEST_CASE("a task accepted by execute() on the loop while it stops runs") {
  EventLoop loop("stop-chain");
  loop.start();
  std::atomic<int> accepted{0};
  std::atomic<int> ran{0};
  // Each step queues the next from the loop itself, the way a task that yields does.
  std::function<void(int)> step = [&](int remaining) {
    ran.fetch_add(1);
    if (remaining == 0) return;
    if (loop.execute([&step, remaining] { step(remaining - 1); })) accepted.fetch_add(1);
  };
  loop.execute([&] {
    loop.stop();
    loop.execute([&step] { step(4); });  // counted by ran
  });
  loop.join();
  INFO("accepted " << accepted.load() << ", ran " << ran.load());
  // Every task execute() accepted ran (one refused, once the loop had stopped, is fine).
  CHECK(ran.load() == accepted.load() + 1);  // + the first step, queued from another thread
}

namespace {

struct FakeListener final : sluice::LoopResource {
  EventLoop* loop = nullptr;
  std::atomic<bool> stopped_accepting{false};
  std::atomic<bool> closed{false};
  void on_stop_accepting() override { stopped_accepting = true; }
  void on_close_gracefully() override { on_close_now(); }
  void on_close_now() override {
    closed = true;
    loop->unregister_resource(*this);
  }
};

}  // namespace

// "Listeners stop at once" on a graceful shutdown. A listener that registers once the shutdown
// has begun (a bind queued to the loop meanwhile) is never told to stop accepting: it keeps
// accepting for the whole quiet period.
TEST_CASE("a resource registered during the quiet period is told to stop accepting") {
  EventLoop loop("quiet-register");
  loop.start();
  FakeListener listener;
  listener.loop = &loop;
  loop.shutdown_gracefully(1000ms, 2000ms);
  loop.execute([&] { loop.register_resource(listener); });
  CHECK(eventually([&] { return listener.stopped_accepting.load(); }, 500ms));
  loop.join();
  CHECK(listener.closed.load());
}

// then() callbacks of one future: one registered before the result arrived (from another
// thread) runs after one registered later on the loop thread.
TEST_CASE("then() callbacks run in the order they were registered") {
  EventLoop loop("then-order");
  loop.start();
  sluice::Promise<void> done(&loop);
  auto done_future = done.future();
  // Complete from this (non-loop) thread while the loop is busy, then register on the loop.
  sluice::Promise<int> promise2(&loop);
  auto future2 = promise2.future();
  std::vector<int> order2;
  std::atomic<bool> gate{false};
  loop.execute([&] {
    while (!gate.load())
      std::this_thread::yield();  // hold the loop
    future2.then([&](const sluice::Result<int>&) { order2.push_back(2); });
    loop.execute([&] { done.set_value(); });
  });
  future2.then([&](const sluice::Result<int>&) { order2.push_back(1); });
  promise2.set_value(1);  // queues callback 1 to the loop (busy)
  gate = true;
  done_future.wait();
  loop.stop();
  loop.join();
  CHECK(order2 == std::vector<int>{1, 2});
}

// A timer scheduled while the stopping loop closed its last handles (here by a deferred task
// that a timer's released task left behind) was started on the loop: it never fired, its open
// handle made uv_loop_close fail (EBUSY), and it kept its task, and whatever that held, for
// ever.
TEST_CASE(
    "a timer scheduled while the loop closes its last handles is dropped, its task released") {
  EventLoop loop("closing");
  loop.start();
  std::atomic<bool> late_task_released{false};
  sluice::ScheduledTask late;
  // Released on the loop thread when the loop closes this timer's handle.
  std::shared_ptr<int> schedules_when_released(new int(0), [&](int* value) {
    delete value;
    loop.defer([&] {
      std::shared_ptr<int> held(new int(0), [&](int* held_value) {
        delete held_value;
        late_task_released = true;
      });
      late = loop.schedule(std::chrono::hours(1), [held] {});
    });
  });
  loop.schedule(std::chrono::hours(1), [owned = std::move(schedules_when_released)] {});
  loop.stop();
  loop.join();
  CHECK(late.is_cancelled());
  CHECK(late_task_released.load());
}

namespace {

// Captured by a scheduled task: says whether, and on which thread, the task was released.
struct ReleaseWitness {
  EventLoop* loop;
  std::atomic<int>* released;
  std::atomic<bool>* released_on_loop;
  ReleaseWitness(EventLoop* l, std::atomic<int>* r, std::atomic<bool>* on)
      : loop(l), released(r), released_on_loop(on) {}
  ReleaseWitness(ReleaseWitness&& other) noexcept
      : loop(std::exchange(other.loop, nullptr)),
        released(other.released),
        released_on_loop(other.released_on_loop) {}
  ReleaseWitness(const ReleaseWitness&) = delete;
  ~ReleaseWitness() {
    if (loop == nullptr) return;  // moved from
    *released_on_loop = loop->in_loop();
    released->fetch_add(1);
  }
};

}  // namespace

// A timer cancelled before its loop got round to starting it kept its task, and what that
// captured, until the last ScheduledTask handle went: possibly never, and then on the thread
// that dropped the handle rather than on the loop, unlike a timer cancelled once started.
TEST_CASE("a timer cancelled before its loop starts it releases its task on the loop") {
  EventLoop loop("cancel-unstarted");
  loop.start();
  std::promise<void> gate;
  std::shared_future<void> opened = gate.get_future().share();
  loop.execute([opened] { opened.wait(); });  // the timer's start waits behind this
  std::atomic<int> released{0};
  std::atomic<bool> released_on_loop{false};
  sluice::ScheduledTask timer = loop.schedule(
      std::chrono::hours(1), [witness = ReleaseWitness(&loop, &released, &released_on_loop)] {});
  timer.cancel();
  gate.set_value();
  sluice::Promise<void> passed;
  loop.execute([&passed] { passed.set_value(); });
  CHECK(passed.future().wait_for(5s));
  CHECK(released.load() == 1);
  CHECK(released_on_loop.load());
  CHECK(timer.is_cancelled());
  loop.stop();
  loop.join();
}

// Scheduled once the loop has stopped, the timer never runs; its task was nonetheless kept for
// as long as the returned handle lived.
TEST_CASE("a timer scheduled after its loop stopped releases its task at once") {
  EventLoop loop("schedule-stopped");
  loop.start();
  loop.stop();
  loop.join();
  std::atomic<int> released{0};
  std::atomic<bool> released_on_loop{false};
  sluice::ScheduledTask timer =
      loop.schedule(1ms, [witness = ReleaseWitness(&loop, &released, &released_on_loop)] {});
  CHECK(timer.is_cancelled());
  CHECK(released.load() == 1);
}

TEST_CASE("a ScheduledTask kept past its loop's destruction can still be cancelled") {
  // cancel() used the destroyed loop (heap-use-after-free).
  sluice::ScheduledTask kept;
  auto loop = std::make_unique<EventLoop>("outlived");
  loop->start();
  kept = loop->schedule(std::chrono::hours(1), [] {});
  loop->stop();
  loop->join();
  loop.reset();
  kept.cancel();
  CHECK(kept.is_cancelled());
}

// Completing a promise, or dropping it (which breaks it), after its loop was destroyed queued
// the callbacks to the destroyed loop (heap-use-after-free). They run on the completing thread
// instead, as they do when the loop has stopped taking tasks.
TEST_CASE("a promise completed or dropped after its loop was destroyed runs its callbacks here") {
  auto loop = std::make_unique<EventLoop>("outlived-promise");
  loop->start();
  sluice::Promise<int> completed(loop.get());
  std::optional<sluice::Promise<int>> dropped(std::in_place, loop.get());
  int value = 0;
  bool broken = false;
  completed.future().then([&](const sluice::Result<int>& result) { value = result.value(); });
  dropped->future().then([&](const sluice::Result<int>& result) {
    broken = !result.ok() && result.error() == std::future_errc::broken_promise;
  });
  loop->stop();
  loop->join();
  loop.reset();
  completed.set_value(7);
  dropped.reset();
  CHECK(value == 7);
  CHECK(broken);
}

namespace {

// Runs `work(i)` on `threads` threads at once, each given its index, while `destroy` runs on
// this thread, and returns once all are done. The threads are started and waiting before
// `destroy` begins, so their work overlaps it.
template <typename Work, typename Destroy>
void race_with(int threads, Work work, Destroy destroy) {
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> racers;
  for (int i = 0; i < threads; ++i) {
    racers.emplace_back([&, i] {
      ready.fetch_add(1);
      while (!go.load())
        std::this_thread::yield();
      work(i);
    });
  }
  while (ready.load() < threads)
    std::this_thread::yield();
  go = true;
  destroy();
  for (std::thread& racer : racers)
    racer.join();
}

}  // namespace

// cancel() loaded the loop from its liveness token, then dispatched to it: a loop destroyed on
// another thread between the two was used after it was freed (TSan reports the freeing write
// racing the cancelling thread's reads of the loop; ASan, when the free falls in between).
// Here threads keep cancelling while the loop is destroyed, until it is gone.
TEST_CASE("ScheduledTasks cancelled on other threads while their loop is destroyed") {
  constexpr int kRounds = 200;
  constexpr int kThreads = 3;
  constexpr int kTasksPerThread = 16;
  std::atomic<int> ran{0};
  for (int round = 0; round < kRounds; ++round) {
    auto loop = std::make_unique<EventLoop>("cancel-race");
    loop->start();
    std::vector<std::vector<sluice::ScheduledTask>> tasks(kThreads);
    for (std::vector<sluice::ScheduledTask>& mine : tasks) {
      for (int i = 0; i < kTasksPerThread; ++i)
        mine.push_back(loop->schedule(std::chrono::hours(1), [&ran] { ++ran; }));
    }
    std::atomic<bool> destroyed{false};
    race_with(
        kThreads,
        [&](int thread) {
          // cancel() again and again: each call reads the token and, while the loop is there,
          // queues the close to it.
          do {
            for (sluice::ScheduledTask& task : tasks[static_cast<std::size_t>(thread)])
              task.cancel();
          } while (!destroyed.load());
        },
        [&] {
          loop.reset();
          destroyed = true;
        });
    for (const std::vector<sluice::ScheduledTask>& mine : tasks) {
      for (const sluice::ScheduledTask& task : mine)
        CHECK(task.is_cancelled());
    }
  }
  CHECK(ran.load() == 0);
}

// A promise completed (or dropped) on another thread read its loop from the token, then queued
// its callbacks to it: the same use of a loop destroyed in between. Every callback runs exactly
// once, on the loop or, once it no longer takes tasks, on the completing thread.
TEST_CASE("promises completed on other threads while their loop is destroyed run each callback") {
  constexpr int kRounds = 200;
  constexpr int kThreads = 3;
  constexpr int kPromisesPerThread = 256;
  for (int round = 0; round < kRounds; ++round) {
    auto loop = std::make_unique<EventLoop>("promise-race");
    loop->start();
    std::atomic<int> called{0};
    std::atomic<int> completed{0};
    std::vector<std::vector<std::optional<sluice::Promise<int>>>> promises(kThreads);
    for (std::vector<std::optional<sluice::Promise<int>>>& mine : promises) {
      for (int i = 0; i < kPromisesPerThread; ++i) {
        sluice::Promise<int>& promise = mine.emplace_back(std::in_place, loop.get()).value();
        promise.future().then([&called](const sluice::Result<int>&) { ++called; });
      }
    }
    race_with(
        kThreads,
        [&](int thread) {
          int i = 0;
          for (std::optional<sluice::Promise<int>>& promise :
               promises[static_cast<std::size_t>(thread)]) {
            if (i++ % 2 == 0) {
              promise->set_value(i);  // then() callbacks queued to the loop, or run here
            } else {
              promise.reset();  // broken: the same path
            }
            completed.fetch_add(1);
          }
        },
        [&] {
          // Destroy the loop while a quarter of the promises are complete and the rest are not.
          while (completed.load() < kThreads * kPromisesPerThread / 4)
            std::this_thread::yield();
          loop.reset();
        });
    CHECK(called.load() == kThreads * kPromisesPerThread);
  }
}

// A callback that runs on the completing thread because the loop no longer takes tasks may
// complete another promise of the same loop, or cancel a task of it: nothing of the first
// completion may still be held then (a lock on the loop's token would deadlock).
TEST_CASE("a callback run on the completing thread may use its loop's token again") {
  auto loop = std::make_unique<EventLoop>("reentered-token");
  loop->start();
  sluice::ScheduledTask timer = loop->schedule(std::chrono::hours(1), [] {});
  sluice::Promise<int> first(loop.get());
  sluice::Promise<int> second(loop.get());
  int heard = 0;
  first.future().then([&](const sluice::Result<int>& result) {
    timer.cancel();
    second.set_value(*result + 1);
  });
  second.future().then([&](const sluice::Result<int>& result) { heard = *result; });
  // The same once the loop is destroyed.
  sluice::Promise<int> third(loop.get());
  sluice::Promise<int> fourth(loop.get());
  int heard_after = 0;
  third.future().then([&](const sluice::Result<int>& result) { fourth.set_value(*result + 1); });
  fourth.future().then([&](const sluice::Result<int>& result) { heard_after = *result; });
  loop->stop();
  loop->join();  // stopped, not destroyed: execute() refuses
  first.set_value(1);
  CHECK(heard == 2);
  CHECK(timer.is_cancelled());
  loop.reset();
  third.set_value(5);
  CHECK(heard_after == 6);
}

// A promise dropped without a result (a task refused by a stopped loop, an error path that
// forgot it) left its future pending for ever: wait() and get() blocked, then() never ran.
TEST_CASE("a future whose last promise is dropped unfulfilled fails with broken_promise") {
  std::optional<sluice::Promise<int>> promise(std::in_place);
  auto future = promise->future();
  std::optional<sluice::Promise<int>> copy(*promise);
  promise.reset();
  CHECK_FALSE(future.is_ready());  // a copy still may complete it
  copy.reset();
  REQUIRE(future.is_ready());
  const sluice::Result<int>& result = future.wait();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error() == std::future_errc::broken_promise);
  CHECK_THROWS_AS(future.get(), sluice::Exception);
}

TEST_CASE("a promise moved from, or completed, breaks nothing when dropped") {
  sluice::Promise<void> original;
  auto future = original.future();
  {
    sluice::Promise<void> moved(std::move(original));
    CHECK_FALSE(future.is_ready());  // the moved-from promise is not the last one
    moved.set_value();
  }
  CHECK(future.wait().ok());
}

TEST_CASE("then() callbacks hear of a broken promise on their loop") {
  EventLoop loop("broken-promise");
  loop.start();
  std::optional<sluice::Promise<int>> promise(std::in_place, &loop);
  std::promise<bool> heard;
  promise->future().then([&](const sluice::Result<int>& result) {
    heard.set_value(loop.in_loop() && !result.ok() &&
                    result.error() == std::future_errc::broken_promise);
  });
  promise.reset();
  auto heard_future = heard.get_future();
  REQUIRE(heard_future.wait_for(5s) == std::future_status::ready);
  CHECK(heard_future.get());
  loop.stop();
  loop.join();
}

// A callback that threw handed the others back to the future and nothing ran them: they waited
// for a then() that might never come.
TEST_CASE("a then() callback that throws does not keep the later ones from running") {
  EventLoop loop("then-throws");
  loop.start();
  sluice::Promise<int> promise(&loop);
  std::promise<int> later;
  promise.future().then([](const sluice::Result<int>&) { throw std::runtime_error("boom"); });
  promise.future().then([&](const sluice::Result<int>& result) { later.set_value(*result); });
  promise.set_value(3);
  auto later_future = later.get_future();
  REQUIRE(later_future.wait_for(5s) == std::future_status::ready);
  CHECK(later_future.get() == 3);
  loop.stop();
  loop.join();
}

TEST_CASE("a then() callback that throws on the completing thread is not thrown at it") {
  sluice::Promise<int> promise;  // no loop: callbacks run on the completing thread
  int later = 0;
  promise.future().then([](const sluice::Result<int>&) { throw std::runtime_error("boom"); });
  promise.future().then([&](const sluice::Result<int>& result) { later = *result; });
  CHECK_NOTHROW(promise.set_value(4));
  CHECK(later == 4);
}

// The destructor shut the group down, which throws on the group's own loops: the exception left
// a noexcept destructor and std::terminate reported a shutdown the user never asked for.
TEST_CASE("an event loop group destroyed on one of its own loops stops the process, saying why") {
  const ChildOutcome child = run_in_child([] {
    auto* group = new sluice::EventLoopGroup(1, "self-destroy");
    std::promise<void> returned;
    group->at(0).execute([&] {
      delete group;
      returned.set_value();
    });
    // Bounded: a destructor that hangs fails the test rather than hanging it.
    (void)returned.get_future().wait_for(10s);
  });
  INFO("child's stderr: " << child.stderr_text);
  CHECK(child.aborted());
  CHECK(child.stderr_text.find("EventLoopGroup destroyed on its own loop self-destroy-0") !=
        std::string::npos);
}

// std::terminate, from join() throwing inside the destructor, said nothing of what to do.
TEST_CASE("a started event loop destroyed on its own thread stops the process, saying why") {
  const ChildOutcome child = run_in_child([] {
    auto* loop = new EventLoop("self-destroy");
    loop->start();
    std::promise<void> returned;
    loop->execute([&] {
      delete loop;
      returned.set_value();
    });
    (void)returned.get_future().wait_for(10s);
  });
  INFO("child's stderr: " << child.stderr_text);
  CHECK(child.aborted());
  CHECK(child.stderr_text.find("EventLoop self-destroy destroyed on its own thread") !=
        std::string::npos);
}
