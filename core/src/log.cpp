#include "sluice/core/log.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <vector>

namespace sluice {
namespace {

constexpr const char* kLoggerName = "sluice";

std::mutex logger_mutex;
std::shared_ptr<spdlog::logger> current_logger;  // guarded by logger_mutex on write
std::atomic<spdlog::logger*> fast_logger{nullptr};

std::shared_ptr<spdlog::logger> make_default_logger() {
  if (auto registered = spdlog::get(kLoggerName)) return registered;
  auto created = spdlog::stderr_color_mt(kLoggerName);
  created->set_pattern("%Y-%m-%dT%H:%M:%S.%e [%n] [%^%l%$] [t%t] %v");
  const char* env = std::getenv("SLUICE_LOG");
  created->set_level(parse_log_level(env ? env : "", spdlog::level::info));
  return created;
}

}  // namespace

spdlog::logger& logger() {
  if (auto* cached = fast_logger.load(std::memory_order_acquire)) return *cached;
  std::lock_guard lock(logger_mutex);
  if (!current_logger) current_logger = make_default_logger();
  fast_logger.store(current_logger.get(), std::memory_order_release);
  return *current_logger;
}

void set_log_level(spdlog::level::level_enum level) {
  logger().set_level(level);
}

void set_logger(std::shared_ptr<spdlog::logger> replacement) {
  std::lock_guard lock(logger_mutex);
  // The previous logger is kept alive for the process lifetime: other threads may still hold a
  // reference obtained from logger().
  static std::vector<std::shared_ptr<spdlog::logger>> retired;
  if (current_logger) retired.push_back(current_logger);
  current_logger = std::move(replacement);
  fast_logger.store(current_logger.get(), std::memory_order_release);
}

spdlog::level::level_enum parse_log_level(std::string_view name,
                                          spdlog::level::level_enum fallback) {
  if (name.empty()) return fallback;
  auto level = spdlog::level::from_str(std::string(name));
  // spdlog maps unknown names to "off"; only an explicit "off" should silence the logger.
  if (level == spdlog::level::off && name != "off") return fallback;
  return level;
}

}  // namespace sluice
