#pragma once

#include <string_view>

namespace sluice::http {

// The current time as an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT", RFC 9110 §5.6.7),
// formatted once a second per thread. The view is valid until the next call on that thread.
std::string_view http_date_now();

}  // namespace sluice::http
