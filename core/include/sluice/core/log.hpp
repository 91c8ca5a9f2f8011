#pragma once

#include <spdlog/spdlog.h>

#include <string_view>

namespace sluice {

// sluice logs through one named spdlog logger, "sluice", writing to stderr. Its level comes from
// the SLUICE_LOG environment variable (trace, debug, info, warn, error, critical, off) when the
// logger is first used, "info" otherwise, and can be changed at any time with set_log_level.
// An application that wants sluice's output elsewhere registers its own logger named "sluice"
// with spdlog before first use (its level is then left as the application set it: SLUICE_LOG
// applies only to the logger sluice makes), or replaces it with set_logger.
spdlog::logger& logger();

void set_log_level(spdlog::level::level_enum level);

// Parses a level name as SLUICE_LOG accepts it; unknown names give `fallback`.
spdlog::level::level_enum parse_log_level(std::string_view name,
                                          spdlog::level::level_enum fallback);

// Replaces the logger sluice writes to (for example one with a file sink).
void set_logger(std::shared_ptr<spdlog::logger> replacement);

}  // namespace sluice
