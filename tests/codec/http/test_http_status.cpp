#include "sluice/codec/http/http_status.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>

using sluice::http::reason_phrase;

// A response's status line carries the phrase: "407 Unknown" or "103 Unknown" told a client
// reading it that the server did not know the status it sent.
TEST_CASE("every status code of the IANA registry has its phrase") {
  for (const std::uint16_t code :
       {100, 101, 102, 103, 200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301,
        302, 303, 304, 305, 307, 308, 400, 401, 402, 403, 404, 405, 406, 407, 408, 409,
        410, 411, 412, 413, 414, 415, 416, 417, 421, 422, 423, 424, 425, 426, 428, 429,
        431, 451, 500, 501, 502, 503, 504, 505, 506, 507, 508, 510, 511}) {
    INFO(code);
    CHECK(reason_phrase(code) != "Unknown");
  }
  CHECK(reason_phrase(103) == "Early Hints");
  CHECK(reason_phrase(422) == "Unprocessable Content");
  CHECK(reason_phrase(451) == "Unavailable For Legal Reasons");
  // Unregistered codes, which an application may still send.
  CHECK(reason_phrase(299) == "Unknown");
  CHECK(reason_phrase(418) == "Unknown");
  CHECK(reason_phrase(599) == "Unknown");
}
