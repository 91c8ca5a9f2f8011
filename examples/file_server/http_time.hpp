#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::examples {

// An IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (RFC 9110 §5.6.7), held in the object:
// Last-Modified is formatted for every file response, and this costs no allocation.
class HttpDateText {
 public:
  static constexpr std::size_t kLength = 29;
  std::string_view view() const noexcept { return {text_, kLength}; }

 private:
  friend HttpDateText format_http_date(std::int64_t seconds);
  char text_[kLength];
};

// Seconds since the epoch as an IMF-fixdate. The grammar has four-digit years, so instants
// outside years 0000-9999 (a file's mtime can be set to anything) are clamped to that range.
HttpDateText format_http_date(std::int64_t seconds);

// An HTTP-date in any of the three forms a recipient must accept (RFC 9110 §5.6.7):
// IMF-fixdate, the obsolete RFC 850 form ("Sunday, 06-Nov-94 08:49:37 GMT") and asctime
// ("Sun Nov  6 08:49:37 1994"). Empty when the text is none of them. `now` (seconds since the
// epoch) places the RFC 850 form's two-digit year; the clock is read when it is not given.
std::optional<std::int64_t> parse_http_date(std::string_view text,
                                            std::optional<std::int64_t> now = std::nullopt);

// The same instant as a Common Log Format timestamp in local time: "10/Oct/2000:13:55:36 -0700".
std::string format_log_time(std::int64_t seconds);

}  // namespace sluice::examples
