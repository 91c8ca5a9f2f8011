#include "http_time.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <ctime>
#include <tuple>

namespace sluice::examples {
namespace {

constexpr std::int64_t kSecondsPerDay = 86'400;

struct DayAndSecond {
  std::int64_t day;     // days since 1970-01-01
  std::int64_t second;  // within that day, 0 to 86,399
};

// Floors, so that an instant before 1970 lands in its own day rather than the one after.
DayAndSecond split_days(std::int64_t seconds) noexcept {
  DayAndSecond split{seconds / kSecondsPerDay, seconds % kSecondsPerDay};
  if (split.second < 0) {
    split.second += kSecondsPerDay;
    --split.day;
  }
  return split;
}

constexpr std::array<std::string_view, 7> kDays{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::array<std::string_view, 7> kLongDays{"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                    "Thursday", "Friday", "Saturday"};
constexpr std::array<std::string_view, 12> kMonths{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil), so that
// parsing needs neither timegm's time zone state nor a 32-bit time_t.
std::int64_t days_from_civil(std::int64_t year, unsigned month, unsigned day) {
  year -= month <= 2 ? 1 : 0;
  const std::int64_t era = (year >= 0 ? year : year - 399) / 400;
  const auto year_of_era = static_cast<unsigned>(year - era * 400);
  const unsigned day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const unsigned day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + static_cast<std::int64_t>(day_of_era) - 719468;
}

// The inverse: the proleptic Gregorian date of a day count since 1970-01-01 (same source).
// Formatting Last-Modified with it avoids gmtime_r, which takes the time-zone lock each call.
struct CivilDate {
  std::int64_t year;
  unsigned month;  // 1-12
  unsigned day;    // 1-31
};
CivilDate civil_from_days(std::int64_t days) {
  days += 719468;
  const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned shifted_month = (5 * day_of_year + 2) / 153;  // March is 0
  const unsigned day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
  const unsigned month = shifted_month < 10 ? shifted_month + 3 : shifted_month - 9;
  const std::int64_t year = static_cast<std::int64_t>(year_of_era) + era * 400 + (month <= 2);
  return {year, month, day};
}

bool is_leap(std::int64_t year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

unsigned days_in_month(std::int64_t year, unsigned month) {
  static constexpr unsigned kLengths[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap(year) ? 29 : kLengths[month - 1];
}

// A cursor over the text with the small parsers the three formats share.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Exactly `count` digits.
  bool digits(std::size_t count, unsigned& value) {
    if (text_.size() < count) return false;
    value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[i];
      if (c < '0' || c > '9') return false;
      value = value * 10 + static_cast<unsigned>(c - '0');
    }
    text_.remove_prefix(count);
    return true;
  }
  template <std::size_t N>
  bool one_of(const std::array<std::string_view, N>& names, unsigned& index) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        index = static_cast<unsigned>(i);
        return true;
      }
    }
    return false;
  }
  // time-of-day = hour ":" minute ":" second
  bool time_of_day(unsigned& hour, unsigned& minute, unsigned& second) {
    return digits(2, hour) && literal(":") && digits(2, minute) && literal(":") &&
           digits(2, second);
  }
  bool at_end() const { return text_.empty(); }

 private:
  std::string_view text_;
};

std::optional<std::int64_t> to_seconds(std::int64_t year, unsigned month, unsigned day,
                                       unsigned hour, unsigned minute, unsigned second) {
  // A leap second (60) is allowed by the grammar; it counts as the second before.
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) || hour > 23 ||
      minute > 59 || second > 60) {
    return std::nullopt;
  }
  if (second == 60) second = 59;
  return days_from_civil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second;
}

// RFC 9110 §5.6.7: a recipient MUST take an rfc850-date that appears to be more than 50 years
// in the future for the most recent year in the past with the same last two digits. So the
// year is the latest one ending in `two_digits` whose instant is at most 50 years after `now`:
// a window of a hundred years that slides with the clock, reaching into the next century once
// now is past the middle of its own (in 2051, "00" is 2100, 49 years ahead, not 2000). Fifty
// years are counted to the second, as the same month, day and time fifty years on.
std::int64_t rfc850_year(unsigned two_digits, unsigned month, unsigned day, unsigned second_of_day,
                         std::int64_t now) {
  const auto [days, now_second] = split_days(now);
  const CivilDate today = civil_from_days(days);
  const std::int64_t limit = today.year + 50;
  const std::int64_t below = ((limit - two_digits) % 100 + 100) % 100;
  std::int64_t year = limit - below;  // the latest year ending in the digits, up to the limit
  if (year == limit && std::tuple(month, day, second_of_day) >
                           std::tuple(today.month, today.day, static_cast<unsigned>(now_second))) {
    year -= 100;
  }
  return year;
}

}  // namespace

HttpDateText format_http_date(std::int64_t seconds) {
  constexpr std::int64_t kFirst = -62'167'219'200;  // 0000-01-01T00:00:00Z
  constexpr std::int64_t kLast = 253'402'300'799;   // 9999-12-31T23:59:59Z
  seconds = std::clamp(seconds, kFirst, kLast);
  const auto [days, second_of_day] = split_days(seconds);
  const CivilDate civil = civil_from_days(days);
  // 1970-01-01 was a Thursday.
  const auto weekday = static_cast<std::size_t>(((days % 7) + 7 + 4) % 7);
  HttpDateText date;
  char* out = date.text_;
  // Fixed sizes throughout (names are three letters), so every copy is a few moves.
  auto put = [&out]<std::size_t N>(const char(&text)[N]) {
    std::memcpy(out, text, N - 1);
    out += N - 1;
  };
  auto put_name = [&out](std::string_view name) {
    std::memcpy(out, name.data(), 3);
    out += 3;
  };
  auto put_digits = [&out](unsigned value, int width) {
    for (int i = width - 1; i >= 0; --i, value /= 10)
      out[i] = static_cast<char>('0' + value % 10);
    out += width;
  };
  put_name(kDays[weekday]);
  put(", ");
  put_digits(civil.day, 2);
  put(" ");
  put_name(kMonths[civil.month - 1]);
  put(" ");
  put_digits(static_cast<unsigned>(civil.year), 4);
  put(" ");
  put_digits(static_cast<unsigned>(second_of_day / 3600), 2);
  put(":");
  put_digits(static_cast<unsigned>(second_of_day / 60 % 60), 2);
  put(":");
  put_digits(static_cast<unsigned>(second_of_day % 60), 2);
  put(" GMT");
  return date;
}

std::optional<std::int64_t> parse_http_date(std::string_view text,
                                            std::optional<std::int64_t> now_given) {
  unsigned weekday = 0, day = 0, month = 0, year = 0, hour = 0, minute = 0, second = 0;
  {
    // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    Scanner in(text);
    if (in.one_of(kDays, weekday) && in.literal(", ") && in.digits(2, day) && in.literal(" ") &&
        in.one_of(kMonths, month) && in.literal(" ") && in.digits(4, year) && in.literal(" ") &&
        in.time_of_day(hour, minute, second) && in.literal(" GMT") && in.at_end()) {
      return to_seconds(year, month + 1, day, hour, minute, second);
    }
  }
  {
    // rfc850-date: "Sunday, 06-Nov-94 08:49:37 GMT"
    Scanner in(text);
    if (in.one_of(kLongDays, weekday) && in.literal(", ") && in.digits(2, day) && in.literal("-") &&
        in.one_of(kMonths, month) && in.literal("-") && in.digits(2, year) && in.literal(" ") &&
        in.time_of_day(hour, minute, second) && in.literal(" GMT") && in.at_end()) {
      const std::int64_t now =
          now_given ? *now_given : static_cast<std::int64_t>(std::time(nullptr));
      const std::int64_t full =
          rfc850_year(year, month + 1, day, hour * 3600 + minute * 60 + second, now);
      return to_seconds(full, month + 1, day, hour, minute, second);
    }
  }
  {
    // asctime-date: "Sun Nov  6 08:49:37 1994" (the day is space-padded)
    Scanner in(text);
    if (in.one_of(kDays, weekday) && in.literal(" ") && in.one_of(kMonths, month) &&
        in.literal(" ") && (in.literal(" ") ? in.digits(1, day) : in.digits(2, day)) &&
        in.literal(" ") && in.time_of_day(hour, minute, second) && in.literal(" ") &&
        in.digits(4, year) && in.at_end()) {
      return to_seconds(year, month + 1, day, hour, minute, second);
    }
  }
  return std::nullopt;
}

std::string format_log_time(std::int64_t seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  ::localtime_r(&time, &parts);
  char text[64];
  const std::size_t length = std::strftime(text, sizeof text, "%d/%b/%Y:%H:%M:%S %z", &parts);
  return std::string(text, length);
}

}  // namespace sluice::examples
