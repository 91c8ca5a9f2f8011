#include "access_log.hpp"

#include <fmt/format.h>
#include <spdlog/sinks/stdout_sinks.h>

#include "http_time.hpp"

namespace sluice::examples {
namespace {

void append_escaped(std::string& out, std::string_view text) {
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out.push_back(c);
    }
  }
}

}  // namespace

std::string log_request_line(std::string_view method, std::string_view target,
                             std::string_view version) {
  std::string line;
  line.reserve(method.size() + target.size() + version.size() + 2);
  append_escaped(line, method);
  line.push_back(' ');
  append_escaped(line, target);
  line.push_back(' ');
  append_escaped(line, version);
  return line;
}

std::string common_log_line(const AccessRecord& record, bool completed) {
  const std::string size =
      completed && record.body_bytes != 0 ? std::to_string(record.body_bytes) : "-";
  return fmt::format("{} - - [{}] \"{}\" {} {}", record.remote_host, format_log_time(record.time),
                     record.request_line, record.status, size);
}

std::shared_ptr<spdlog::logger> make_access_logger() {
  auto logger = spdlog::stdout_logger_mt("sluice-access");
  logger->set_pattern("%v");
  logger->set_level(spdlog::level::info);
  logger->flush_on(spdlog::level::info);
  return logger;
}

}  // namespace sluice::examples
