// The main of every sluice test program. Besides running doctest, it checks after each test
// case that the buffer allocator has no live buffers, and fails the run naming the test case
// (and, in SLUICE_LEAK_TRACKING builds, where the leaked buffers were allocated) if it has.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <vector>

#include "sluice/buffer/pooled_allocator.hpp"

namespace {

std::vector<std::string> leaking_test_cases;

struct LiveBufferListener : doctest::IReporter {
  explicit LiveBufferListener(const doctest::ContextOptions&) {}

  void test_case_end(const doctest::CurrentTestCaseStats&) override {
    const auto metrics = sluice::PooledAllocator::metrics();
    if (metrics.live_buffers == 0) return;
    leaking_test_cases.emplace_back(current_);
    std::fprintf(stderr, "\nLEAK: test case \"%s\" ended with %lld live buffers\n%s\n",
                 current_.c_str(), static_cast<long long>(metrics.live_buffers),
                 sluice::PooledAllocator::leak_report().c_str());
  }
  void test_case_start(const doctest::TestCaseData& data) override { current_ = data.m_name; }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}

  std::string current_;
};

}  // namespace

DOCTEST_REGISTER_LISTENER("live-buffers", 1, LiveBufferListener);

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit()) return result;
  if (!leaking_test_cases.empty()) {
    std::fprintf(stderr, "%zu test case(s) leaked buffers\n", leaking_test_cases.size());
    return result == 0 ? 1 : result;
  }
  return result;
}
