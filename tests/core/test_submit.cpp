#include "sluice/core/submit.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <type_traits>

#include "sluice/core/core_error.hpp"
#include "sluice/core/error.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/future.hpp"
#include "sluice/core/result.hpp"

using namespace std::chrono_literals;
using sluice::Error;
using sluice::EventLoop;
using sluice::Result;
using sluice::submit;

namespace {

// A loop running on its own thread for the length of a test.
struct RunningLoop {
  EventLoop loop{"submit-loop"};
  RunningLoop() { loop.start(); }
  ~RunningLoop() {
    loop.stop();
    loop.join();
  }
};

}  // namespace

TEST_CASE("submit runs the task on the loop's thread and hands its value back") {
  RunningLoop running;
  const auto caller = std::this_thread::get_id();
  const std::string answer = submit(running.loop, [&] {
                               return running.loop.in_loop() && std::this_thread::get_id() != caller
                                          ? std::string("on the loop")
                                          : std::string("elsewhere");
                             }).get();
  CHECK(answer == "on the loop");
}

TEST_CASE("submit of a task that returns nothing completes once it ran") {
  RunningLoop running;
  int ran = 0;  // written on the loop, read here after the future: the future orders the two
  const Result<void> result = submit(running.loop, [&] { ++ran; }).wait();
  CHECK(result.ok());
  CHECK(ran == 1);
}

TEST_CASE("tasks submitted from one thread run in the order they were submitted") {
  RunningLoop running;
  std::string order;
  sluice::Future<void> last;
  for (char c : std::string("abcdefgh"))
    last = submit(running.loop, [&order, c] { order.push_back(c); });
  last.get();
  CHECK(order == "abcdefgh");
}

TEST_CASE("a task's Result is the future's: a value, or an error that fails it") {
  RunningLoop running;
  CHECK(submit(running.loop, [] { return Result<int>(42); }).get() == 42);
  const Error refused(std::make_error_code(std::errc::permission_denied), "open /etc/shadow");
  const Result<int> failed = submit(running.loop, [&] { return Result<int>(refused); }).wait();
  REQUIRE_FALSE(failed.ok());
  CHECK(failed.error() == std::errc::permission_denied);
  CHECK(failed.error().context() == "open /etc/shadow");
}

TEST_CASE("a task that throws fails the future with the exception as an error") {
  RunningLoop running;
  SUBCASE("a sluice exception keeps its error") {
    const Result<int> result =
        submit(running.loop, []() -> int {
          throw sluice::Exception(Error(std::make_error_code(std::errc::timed_out), "handshake"));
        }).wait();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error() == std::errc::timed_out);
    CHECK(result.error().context() == "handshake");
  }
  SUBCASE("a system error keeps its code") {
    const Result<void> result =
        submit(running.loop, [] {
          throw std::system_error(std::make_error_code(std::errc::no_space_on_device), "log");
        }).wait();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error() == std::errc::no_space_on_device);
  }
  SUBCASE("any other exception is a task_exception saying what") {
    const Result<void> result =
        submit(running.loop, [] { throw std::runtime_error("no such user"); }).wait();
    REQUIRE_FALSE(result.ok());
    CHECK(result.error() == sluice::CoreErrc::task_exception);
    CHECK(result.error().message() == "no such user: task threw");
  }
  // The loop goes on running tasks.
  CHECK(submit(running.loop, [] { return 7; }).get() == 7);
}

TEST_CASE("submit to a loop that no longer takes tasks fails at once, naming the loop") {
  EventLoop loop("stopped-loop");
  loop.start();
  loop.stop();
  loop.join();
  bool ran = false;
  const sluice::Future<void> future = submit(loop, [&] { ran = true; });
  REQUIRE(future.is_ready());
  const Result<void> result = future.wait();
  REQUIRE_FALSE(result.ok());
  CHECK(result.error() == std::errc::operation_canceled);
  CHECK(result.error().message().find("stopped-loop") != std::string::npos);
  CHECK_FALSE(ran);
}

TEST_CASE("submit from the loop's own thread queues the task, and then() runs on the loop") {
  RunningLoop running;
  auto outcome = std::make_shared<sluice::Promise<std::string>>();
  running.loop.execute([&loop = running.loop, outcome] {
    auto step = std::make_shared<int>(1);
    submit(loop, [step] { return *step; }).then([&loop, outcome](const Result<int>& seen) {
      outcome->set_value(!loop.in_loop()     ? "then() off the loop"
                         : seen.value() == 2 ? "queued"
                                             : "ran inline");
    });
    *step = 2;  // the task runs after this callback returns, so it sees 2
  });
  CHECK(outcome->future().get() == "queued");
}

TEST_CASE("submit takes a task that can only be moved") {
  RunningLoop running;
  auto owned = std::make_unique<int>(5);
  CHECK(submit(running.loop, [owned = std::move(owned)] { return *owned * 2; }).get() == 10);
}

TEST_CASE("a task that returns a reference hands back a copy taken on the loop") {
  RunningLoop running;
  std::string owned_by_loop = "before";
  sluice::Future<std::string> copy =
      submit(running.loop, [&]() -> const std::string& { return owned_by_loop; });
  static_assert(std::is_same_v<decltype(copy), sluice::Future<std::string>>);
  CHECK(copy.get() == "before");
  submit(running.loop, [&] { owned_by_loop = "after"; }).get();
  CHECK(copy.get() == "before");
}
