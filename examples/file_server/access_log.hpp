#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace sluice::examples {

// One request as the access log will show it, filled in when the request arrives and written
// when its response is done (or failed).
struct AccessRecord {
  std::string remote_host;
  std::string request_line;  // "GET /a.txt HTTP/1.1", unsafe octets escaped
  std::int64_t time = 0;     // when the request arrived
  std::uint16_t status = 0;
  std::uint64_t body_bytes = 0;  // what the response's body holds (0 for HEAD)
};

// Builds the quoted request line, escaping '"', '\' and octets outside printable ASCII as \xHH
// (as Apache does), so a crafted target cannot forge a log line or a field.
std::string log_request_line(std::string_view method, std::string_view target,
                             std::string_view version);

// The record in Common Log Format:
//   127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "GET /a.txt HTTP/1.1" 200 2326
// The size is "-" when no body was sent, or when the transfer failed part-way (the count of
// bytes the peer got is not known then).
std::string common_log_line(const AccessRecord& record, bool completed);

// The access logger: spdlog, its own logger "sluice-access" writing bare lines to stdout, so
// that the access log and the server's diagnostics (stderr) can be routed apart.
std::shared_ptr<spdlog::logger> make_access_logger();

}  // namespace sluice::examples
