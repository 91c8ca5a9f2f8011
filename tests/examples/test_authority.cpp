// The CONNECT target parser of the tunnelling proxy example (RFC 9112 §3.2.3 authority-form).
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "connect_handler.hpp"

using sluice::examples::Authority;
using sluice::examples::parse_authority;

TEST_CASE("host:port, with an IPv6 literal in brackets") {
  const std::optional<Authority> name = parse_authority("example.org:443");
  REQUIRE(name);
  CHECK(name->host == "example.org");
  CHECK(name->port == 443);
  const std::optional<Authority> v6 = parse_authority("[::1]:8443");
  REQUIRE(v6);
  CHECK(v6->host == "::1");
  CHECK(v6->port == 8443);
  CHECK(parse_authority("127.0.0.1:65535")->port == 65535);
  // Printed back as written, for the log.
  CHECK(name->to_string() == "example.org:443");
  CHECK(v6->to_string() == "[::1]:8443");
}

TEST_CASE("a target without a usable port, or with an unbracketed IPv6 literal, is refused") {
  for (const std::string bad :
       {"example.org", "example.org:", ":443", "example.org:0", "example.org:65536",
        "example.org:44x", "example.org:+443", "::1:443", "[::1]443", "[]:443", "[::1:443",
        "[127.0.0.1]:443", "[example.org]:443", "[[::1]]:443", "example.org]:443"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_authority(bad));
  }
}
