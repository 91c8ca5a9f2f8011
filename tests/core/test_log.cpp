#include <doctest/doctest.h>

#include <spdlog/sinks/ostream_sink.h>

#include <sstream>

#include "sluice/core/log.hpp"

TEST_CASE("log level names parse as SLUICE_LOG accepts them") {
  using spdlog::level::level_enum;
  CHECK(sluice::parse_log_level("debug", level_enum::info) == level_enum::debug);
  CHECK(sluice::parse_log_level("trace", level_enum::info) == level_enum::trace);
  CHECK(sluice::parse_log_level("off", level_enum::info) == level_enum::off);
  CHECK(sluice::parse_log_level("", level_enum::warn) == level_enum::warn);
  CHECK(sluice::parse_log_level("loud", level_enum::warn) == level_enum::warn);
}

TEST_CASE("sluice logs through one logger named sluice whose level can be set from code") {
  CHECK(sluice::logger().name() == "sluice");
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  sluice::set_logger(std::make_shared<spdlog::logger>("sluice", sink));
  sluice::set_log_level(spdlog::level::warn);
  sluice::logger().info("hidden");
  sluice::logger().warn("shown");
  sluice::logger().flush();
  CHECK(out.str().find("hidden") == std::string::npos);
  CHECK(out.str().find("shown") != std::string::npos);
}
