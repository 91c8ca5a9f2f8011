#include "sluice/codec/http/http_date.hpp"

#include <cstdio>
#include <ctime>

namespace sluice::http {
namespace {

// English names, whatever the process's locale: strftime's %a and %b follow LC_TIME, and a
// program that calls setlocale() would send dates no client can parse (RFC 9110 §5.6.7).
constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

}  // namespace

std::string_view http_date_now() {
  thread_local std::time_t formatted_second = -1;
  thread_local char text[32];
  thread_local std::size_t length = 0;
  const std::time_t now = std::time(nullptr);  // vDSO: no system call
  if (now != formatted_second) {
    std::tm utc{};
    gmtime_r(&now, &utc);
    const int written = std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT",
                                      kDays[utc.tm_wday], utc.tm_mday, kMonths[utc.tm_mon],
                                      utc.tm_year + 1900, utc.tm_hour, utc.tm_min, utc.tm_sec);
    length = written > 0 ? static_cast<std::size_t>(written) : 0;
    formatted_second = now;
  }
  return {text, length};
}

}  // namespace sluice::http
