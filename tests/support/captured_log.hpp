#pragma once

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <utility>

#include "sluice/core/log.hpp"

namespace sluice::test {

// Sends sluice's log into a ring buffer for the life of the test, then puts the old logger back.
// Each line is formatted by `pattern` (spdlog's syntax: "%v" the message, "%l" its level).
class CapturedLog {
 public:
  explicit CapturedLog(std::string pattern = "%v")
      : sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000)) {
    logger();  // make sure the default logger exists, so that it can be put back
    previous_ = spdlog::get("sluice");
    auto capture = std::make_shared<spdlog::logger>("sluice-test-capture", sink_);
    capture->set_level(spdlog::level::trace);
    capture->set_pattern(std::move(pattern));
    set_logger(capture);
  }
  ~CapturedLog() {
    if (previous_) set_logger(previous_);
  }
  CapturedLog(const CapturedLog&) = delete;
  CapturedLog& operator=(const CapturedLog&) = delete;

  std::string text() const {
    std::string all;
    for (const auto& line : sink_->last_formatted())
      all += line;
    return all;
  }

 private:
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace sluice::test
