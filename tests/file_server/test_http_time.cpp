// The file server's date formatting against the C library's calendar, over the range an mtime
// can take (Last-Modified is formatted by arithmetic, not gmtime_r).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <string>

#include "http_time.hpp"

using sluice::examples::format_http_date;
using sluice::examples::parse_http_date;

namespace {

std::string by_gmtime(std::int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  ::gmtime_r(&time, &parts);
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char text[64];
  // strftime's %Y does not pad years below 1000; the grammar's four digits do.
  std::snprintf(text, sizeof text, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[parts.tm_wday],
                parts.tm_mday, kMonths[parts.tm_mon], parts.tm_year + 1900, parts.tm_hour,
                parts.tm_min, parts.tm_sec);
  return text;
}

}  // namespace

TEST_CASE("format_http_date agrees with gmtime from year 0 to 9999, leap days and all") {
  constexpr std::int64_t kFirst = -62'167'219'200;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kLast = 253'402'300'799;   // 9999-12-31T23:59:59Z
  // A stride that is not a whole number of days walks through every time of day, weekday and
  // month; the edges and the leap days around the epoch are checked one by one.
  for (std::int64_t seconds = kFirst; seconds <= kLast; seconds += 7'919 * 3'607) {
    CAPTURE(seconds);
    CHECK(std::string(format_http_date(seconds).view()) == by_gmtime(seconds));
  }
  for (const std::int64_t seconds :
       {kFirst, kLast, std::int64_t{-1}, std::int64_t{0},
        std::int64_t{951'782'400} /* 2000-02-29 */,
        std::int64_t{784'111'777} /* the RFC's example */, std::int64_t{-2'203'891'200}}) {
    CAPTURE(seconds);
    CHECK(std::string(format_http_date(seconds).view()) == by_gmtime(seconds));
  }
  CHECK(format_http_date(784'111'777).view() == "Sun, 06 Nov 1994 08:49:37 GMT");
}

TEST_CASE("instants beyond four-digit years are clamped, and what is formatted parses back") {
  CHECK(format_http_date(INT64_MAX).view() == "Fri, 31 Dec 9999 23:59:59 GMT");
  CHECK(format_http_date(INT64_MIN).view() == "Sat, 01 Jan 0000 00:00:00 GMT");
  for (const std::int64_t seconds : {std::int64_t{0}, std::int64_t{1'700'000'000}}) {
    CHECK(parse_http_date(format_http_date(seconds).view()) == seconds);
  }
}
