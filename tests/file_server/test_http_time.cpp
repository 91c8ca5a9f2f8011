// The file server's date formatting against the C library's calendar, over the range an mtime
// can take (Last-Modified is formatted by arithmetic, not gmtime_r).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <initializer_list>
#include <optional>
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

namespace {

// The instant an IMF-fixdate names (that form has four-digit years, so no "now" is involved).
std::int64_t instant(const char* imf_fixdate) {
  const std::optional<std::int64_t> seconds = parse_http_date(imf_fixdate);
  REQUIRE(seconds);
  return *seconds;
}

// An RFC 850 date and the instant it names at a given "now". (The parser checks no weekday;
// these are the weekdays of the instants meant.)
struct Rfc850Case {
  const char* rfc850;
  const char* means;  // the same instant as an IMF-fixdate
};

void check_rfc850_years(const char* now_text, std::initializer_list<Rfc850Case> cases) {
  const std::int64_t now = instant(now_text);
  for (const Rfc850Case& c : cases) {
    const std::string at(now_text), date(c.rfc850);
    CAPTURE(at);
    CAPTURE(date);
    CHECK(parse_http_date(c.rfc850, now) == instant(c.means));
  }
}

}  // namespace

// RFC 9110 §5.6.7: a two-digit year that appears to be more than 50 years in the future is the
// most recent past year with the same last two digits. So the year is the latest one with
// those digits whose instant is at most 50 years after now: the window slides with the
// clock, into the next century once now is past the middle of its own. (Fixing the century to
// now's and only ever going back took "00" in 2051 for 2000, 51 years ago, rather than 2100.)
TEST_CASE("an RFC 850 two-digit year is placed at most 50 years after now") {
  // The limit is 50 years to the second: exactly 50 years ahead is not "more than 50".
  check_rfc850_years("Fri, 15 May 2026 12:00:00 GMT",
                     {
                         {"Friday, 15-May-76 12:00:00 GMT", "Fri, 15 May 2076 12:00:00 GMT"},
                         {"Saturday, 15-May-76 12:00:01 GMT", "Sat, 15 May 1976 12:00:01 GMT"},
                         {"Thursday, 14-May-76 23:59:59 GMT", "Thu, 14 May 2076 23:59:59 GMT"},
                         {"Sunday, 16-May-76 00:00:00 GMT", "Sun, 16 May 1976 00:00:00 GMT"},
                         {"Tuesday, 01-Jan-75 00:00:00 GMT", "Tue, 01 Jan 2075 00:00:00 GMT"},
                         {"Saturday, 31-Dec-77 23:59:59 GMT", "Sat, 31 Dec 1977 23:59:59 GMT"},
                         {"Saturday, 01-Jan-77 00:00:00 GMT", "Sat, 01 Jan 1977 00:00:00 GMT"},
                         {"Friday, 15-May-26 12:00:00 GMT", "Fri, 15 May 2026 12:00:00 GMT"},
                         {"Wednesday, 01-Jan-25 00:00:00 GMT", "Wed, 01 Jan 2025 00:00:00 GMT"},
                         {"Saturday, 01-Jan-00 00:00:00 GMT", "Sat, 01 Jan 2000 00:00:00 GMT"},
                         {"Sunday, 06-Nov-94 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT"},
                     });
  // Past the middle of the century, the low two-digit years are in the next one.
  check_rfc850_years("Sun, 01 Jan 2051 00:00:00 GMT",
                     {
                         {"Friday, 01-Jan-00 00:00:00 GMT", "Fri, 01 Jan 2100 00:00:00 GMT"},
                         {"Saturday, 01-Jan-01 00:00:00 GMT", "Sat, 01 Jan 2101 00:00:00 GMT"},
                         {"Monday, 01-Jan-01 00:00:01 GMT", "Mon, 01 Jan 2001 00:00:01 GMT"},
                         {"Saturday, 31-Dec-50 23:59:59 GMT", "Sat, 31 Dec 2050 23:59:59 GMT"},
                         {"Sunday, 01-Jan-51 00:00:00 GMT", "Sun, 01 Jan 2051 00:00:00 GMT"},
                         {"Thursday, 31-Dec-99 23:59:59 GMT", "Thu, 31 Dec 2099 23:59:59 GMT"},
                     });
  check_rfc850_years("Tue, 01 Jul 2070 00:00:00 GMT",
                     {
                         {"Tuesday, 01-Jul-10 00:00:00 GMT", "Tue, 01 Jul 2110 00:00:00 GMT"},
                         {"Monday, 01-Jul-20 00:00:00 GMT", "Mon, 01 Jul 2120 00:00:00 GMT"},
                         {"Wednesday, 01-Jul-20 00:00:01 GMT", "Wed, 01 Jul 2020 00:00:01 GMT"},
                         {"Sunday, 30-Jun-20 23:59:59 GMT", "Sun, 30 Jun 2120 23:59:59 GMT"},
                         {"Friday, 01-Jan-21 00:00:00 GMT", "Fri, 01 Jan 2021 00:00:00 GMT"},
                         {"Tuesday, 01-Jul-70 00:00:00 GMT", "Tue, 01 Jul 2070 00:00:00 GMT"},
                         {"Monday, 30-Jun-70 00:00:00 GMT", "Mon, 30 Jun 2070 00:00:00 GMT"},
                         {"Tuesday, 31-Dec-69 23:59:59 GMT", "Tue, 31 Dec 2069 23:59:59 GMT"},
                         {"Thursday, 01-Jan-71 00:00:00 GMT", "Thu, 01 Jan 2071 00:00:00 GMT"},
                     });
  // A leap day now: the limit is the same day and time of month 50 years on, leap or not.
  check_rfc850_years("Thu, 29 Feb 2024 12:00:00 GMT",
                     {
                         {"Wednesday, 28-Feb-74 23:59:59 GMT", "Wed, 28 Feb 2074 23:59:59 GMT"},
                         {"Friday, 01-Mar-74 00:00:00 GMT", "Fri, 01 Mar 1974 00:00:00 GMT"},
                     });
}
