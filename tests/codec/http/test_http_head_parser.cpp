#include <doctest/doctest.h>

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "field_value_octets.hpp"
#include "sluice/codec/http/http_head_parser.hpp"

using namespace sluice;
using namespace sluice::http;
using Outcome = HttpHeadParser::Outcome;

namespace {

std::span<const std::byte> span_of(std::string_view text) {
  return std::as_bytes(std::span(text.data(), text.size()));
}

// What the parser made of a head, as strings.
struct Parsed {
  Outcome outcome = Outcome::kIncomplete;
  int status = 0;
  std::size_t length = 0;
  std::string method, target, version;
  int minor = -1;
  std::vector<std::pair<std::string, std::string>> fields;
};

Parsed extract(const HttpHeadParser& parser, Outcome outcome, std::string_view bytes) {
  Parsed parsed;
  parsed.outcome = outcome;
  if (outcome == Outcome::kError) parsed.status = parser.error_status();
  if (outcome != Outcome::kComplete) return parsed;
  parsed.length = parser.length();
  parsed.method = bytes.substr(parser.method_offset(), parser.method_length());
  parsed.target = bytes.substr(parser.target_offset(), parser.target_length());
  parsed.version = bytes.substr(parser.version_offset(), 8);
  parsed.minor = parser.version_minor();
  for (const FieldRef& ref : parser.fields()) {
    parsed.fields.emplace_back(bytes.substr(ref.name_offset, ref.name_length),
                               bytes.substr(ref.value_offset, ref.value_length));
  }
  return parsed;
}

Parsed parse(std::string_view bytes, const HttpLimits& limits = {}) {
  HttpHeadParser parser(limits);
  return extract(parser, parser.parse_request(span_of(bytes)), bytes);
}

// The same bytes offered one more byte at a time, as they would trickle in.
Parsed parse_growing(std::string_view bytes, const HttpLimits& limits = {}) {
  HttpHeadParser parser(limits);
  Outcome outcome = Outcome::kIncomplete;
  for (std::size_t size = 1; size <= bytes.size() && outcome == Outcome::kIncomplete; ++size) {
    outcome = parser.parse_request(span_of(bytes.substr(0, size)));
  }
  return extract(parser, outcome, bytes);
}

int error_status(std::string_view bytes, const HttpLimits& limits = {}) {
  const Parsed parsed = parse(bytes, limits);
  return parsed.outcome == Outcome::kError ? parsed.status : 0;
}

using Fields = std::vector<std::pair<std::string, std::string>>;

}  // namespace

TEST_CASE("a request head is parsed in place into method, target, version and fields") {
  const std::string head = "POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Empty:\r\n\r\nbody";
  const Parsed parsed = parse(head);
  REQUIRE(parsed.outcome == Outcome::kComplete);
  CHECK(parsed.method == "POST");
  CHECK(parsed.target == "/submit?x=1");
  CHECK(parsed.version == "HTTP/1.1");
  CHECK(parsed.minor == 1);
  CHECK(parsed.fields == Fields{{"Host", "example.com"}, {"X-Empty", ""}});
  CHECK(parsed.length == head.size() - 4);  // the body is not part of the head
}

TEST_CASE("field values lose surrounding OWS only; names keep their case; duplicates stay") {
  const Parsed parsed =
      parse("GET / HTTP/1.0\r\nX-Pad: \t a  b \t \r\nx-pad:c\r\nX-PAD: \xC3\xBC obs-text\r\n\r\n");
  REQUIRE(parsed.outcome == Outcome::kComplete);
  CHECK(parsed.minor == 0);
  CHECK(parsed.fields == Fields{{"X-Pad", "a  b"}, {"x-pad", "c"}, {"X-PAD", "\xC3\xBC obs-text"}});
}

TEST_CASE("empty lines before the request line are skipped and counted in the length") {
  const std::string head = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
  const Parsed parsed = parse(head);
  REQUIRE(parsed.outcome == Outcome::kComplete);
  CHECK(parsed.method == "GET");
  CHECK(parsed.length == head.size());
  CHECK(error_status("\nGET / HTTP/1.1\r\n\r\n") == 400);  // a bare LF is not an empty line
  CHECK(error_status("\r\rGET / HTTP/1.1\r\n\r\n") == 400);
}

TEST_CASE("the parser resumes where it stopped and gives the same result byte by byte") {
  const std::vector<std::string> heads = {
      "GET / HTTP/1.1\r\n\r\n",
      "\r\nPUT /x HTTP/1.0\r\nA: 1\r\nB:  two words \r\nA: 3\r\n\r\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
  };
  for (const std::string& head : heads) {
    CAPTURE(head);
    const Parsed whole = parse(head);
    const Parsed growing = parse_growing(head);
    REQUIRE(whole.outcome == Outcome::kComplete);
    REQUIRE(growing.outcome == Outcome::kComplete);
    CHECK(growing.length == whole.length);
    CHECK(growing.method == whole.method);
    CHECK(growing.target == whole.target);
    CHECK(growing.fields == whole.fields);
    // Every proper prefix is incomplete, never an error.
    for (std::size_t size = 0; size < head.size(); ++size) {
      HttpHeadParser parser({});
      CHECK(parser.parse_request(span_of(std::string_view(head).substr(0, size))) ==
            Outcome::kIncomplete);
    }
  }
}

TEST_CASE("an error found byte by byte is the error found at once") {
  const std::vector<std::string> bad = {
      "GET / HTTP/1.1\r\nA: b\rc\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\n\r\n",
      "GET / HTTP/1.1\r\nA : b\r\n\r\n",
      "GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n",
      "GET / HTTP/2.0\r\n\r\n",
      "GET /\x01 HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nA: \x7f\r\n\r\n",
      "G@T / HTTP/1.1\r\n\r\n",
  };
  for (const std::string& head : bad) {
    CAPTURE(head);
    const Parsed whole = parse(head);
    const Parsed growing = parse_growing(head);
    REQUIRE(whole.outcome == Outcome::kError);
    CHECK(growing.outcome == Outcome::kError);
    CHECK(growing.status == whole.status);
  }
}

TEST_CASE("a trailer section parses like field lines, an empty one included") {
  HttpHeadParser parser({});
  const std::string trailers = "Checksum: abc \r\nX-T:1\r\n\r\nnext";
  REQUIRE(parser.parse_trailers(span_of(trailers)) == Outcome::kComplete);
  CHECK(parser.length() == trailers.size() - 4);
  REQUIRE(parser.fields().size() == 2);
  const FieldRef first = parser.fields()[0];
  CHECK(trailers.substr(first.value_offset, first.value_length) == "abc");
  parser.reset();
  REQUIRE(parser.parse_trailers(span_of("\r\n")) == Outcome::kComplete);
  CHECK(parser.length() == 2);
  CHECK(parser.fields().empty());
  parser.reset();
  CHECK(parser.parse_trailers(span_of("X: a\n\r\n")) == Outcome::kError);
}

TEST_CASE("reset readies the parser for the next head") {
  HttpHeadParser parser({});
  REQUIRE(parser.parse_request(span_of("GET /a HTTP/1.1\r\nA: 1\r\n\r\n")) == Outcome::kComplete);
  parser.reset();
  const std::string second = "HEAD /bb HTTP/1.0\r\n\r\n";
  REQUIRE(parser.parse_request(span_of(second)) == Outcome::kComplete);
  CHECK(second.substr(parser.target_offset(), parser.target_length()) == "/bb");
  CHECK(parser.fields().empty());
  CHECK(parser.version_minor() == 0);
}

TEST_CASE("request-line errors carry their status") {
  CHECK(error_status("GET  / HTTP/1.1\r\n\r\n") == 400);  // two spaces
  CHECK(error_status("GET / HTTP/1.1 \r\n\r\n") == 400);  // trailing space
  CHECK(error_status("GET\t/ HTTP/1.1\r\n\r\n") == 400);  // HTAB is not SP
  CHECK(error_status(" GET / HTTP/1.1\r\n\r\n") == 400);
  CHECK(error_status("GET /\r\n\r\n") == 400);  // HTTP/0.9 style
  CHECK(error_status("GET / http/1.1\r\n\r\n") == 400);
  CHECK(error_status("GET / RTSP/1.0\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.10\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/2.0\r\n\r\n") == 505);
  CHECK(error_status("GET / HTTP/3.0\r\n\r\n") == 505);
  CHECK(error_status("GET foo HTTP/1.1\r\n\r\n") == 400);
  CHECK(error_status("GET 127.0.0.1:80 HTTP/1.1\r\n\r\n") == 400);
  CHECK(error_status("GET /\x80 HTTP/1.1\r\n\r\n") == 400);
  CHECK(error_status("G\"ET / HTTP/1.1\r\n\r\n") == 400);
  HttpLimits limits;
  limits.max_method = 4;
  CHECK(error_status("PATCH / HTTP/1.1\r\n\r\n", limits) == 400);
  limits.max_target = 8;
  CHECK(error_status("GET /123456789 HTTP/1.1\r\n\r\n", limits) == 414);
}

TEST_CASE("field-line errors carry their status") {
  CHECK(error_status("GET / HTTP/1.1\r\nA : b\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\n A: b\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nA: b\r\n\tc\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\n: b\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nAb\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nA(b): c\r\n\r\n") == 400);
  constexpr char kNul[] = "GET / HTTP/1.1\r\nA: b\0c\r\n\r\n";
  CHECK(error_status(std::string_view(kNul, sizeof kNul - 1)) == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nA: \x1b[0m\r\n\r\n") == 400);
  CHECK(error_status("GET / HTTP/1.1\r\nA: b\r\n\n") == 400);
}

// Values and targets are checked eight octets at a time, then octet by octet in the tail:
// every octet, at every position of values and targets of every length around the word size,
// must be judged as the grammar says.
TEST_CASE("every octet at every position of a field value is accepted or refused by the grammar") {
  test::check_every_field_value_octet(
      [](const std::string& value) {
        const std::string head = "GET / HTTP/1.1\r\nA: " + value + "\r\n\r\n";
        if (parse(head).outcome == Outcome::kComplete) return true;
        CHECK(error_status(head) == 400);
        return false;
      },
      false);
}

TEST_CASE("every octet at every position of a request target is accepted or refused") {
  for (std::size_t length = 2; length <= 25; ++length) {
    for (std::size_t position = 1; position < length; ++position) {
      for (int octet = 0; octet < 256; ++octet) {
        if (octet == '\r' || octet == '\n') continue;
        const auto c = static_cast<unsigned char>(octet);
        const bool allowed = c >= 0x21 && c <= 0x7e;  // RFC 9112 §3.2
        std::string target(length, 't');
        target[0] = '/';
        target[position] = static_cast<char>(c);
        const Parsed parsed = parse("GET " + target + " HTTP/1.1\r\n\r\n");
        if ((parsed.outcome == Outcome::kComplete) != allowed ||
            (allowed && parsed.target != target)) {
          FAIL_CHECK("length " << length << ", octet " << octet << " at " << position);
        }
      }
    }
  }
}

TEST_CASE("the header limits are enforced as the bytes arrive") {
  HttpLimits limits;
  limits.max_header_section = 64;
  limits.max_header_count = 3;
  CHECK(parse("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n", limits).outcome ==
        Outcome::kComplete);
  CHECK(error_status("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits) == 431);
  CHECK(error_status("GET / HTTP/1.1\r\nA: " + std::string(70, 'a') + "\r\n\r\n", limits) == 431);
  // An endless line is refused once it passes the limit, before its end is seen.
  CHECK(error_status("GET / HTTP/1.1\r\nA: " + std::string(70, 'a'), limits) == 431);
  CHECK(parse("GET / HTTP/1.1\r\nA: " + std::string(50, 'a'), limits).outcome ==
        Outcome::kIncomplete);
}

TEST_CASE("CONNECT takes the authority-form, whole or byte by byte") {
  // RFC 9112 §3.2.3: authority-form = uri-host ":" port.
  const std::vector<std::string> targets = {
      "example.com:443",
      "EXAMPLE.com:80",
      "192.0.2.1:8080",
      "[2001:db8::1]:443",
      "[::ffff:192.0.2.1]:1",
      "under_score.test:0",
      "xn--bcher-kva.ch:65535",
      "a%2Db.test:1",
      "sub-delims!$&'()*+,;=.test:22",
      "h:00443",
  };
  for (const std::string& target : targets) {
    CAPTURE(target);
    for (const std::string version : {"HTTP/1.1", "HTTP/1.0"}) {
      const std::string head =
          "CONNECT " + target + " " + version + "\r\nHost: " + target + "\r\n\r\n";
      HttpHeadParser parser({});
      for (std::size_t size = 0; size < head.size(); ++size) {
        REQUIRE(parser.parse_request(span_of(std::string_view(head).substr(0, size))) ==
                Outcome::kIncomplete);
      }
      REQUIRE(parser.parse_request(span_of(head)) == Outcome::kComplete);
      CHECK(parser.is_connect());
      CHECK(head.substr(parser.target_offset(), parser.target_length()) == target);
      const Parsed whole = parse(head);
      REQUIRE(whole.outcome == Outcome::kComplete);
      CHECK(whole.method == "CONNECT");
      CHECK(whole.target == target);
      CHECK(whole.minor == (version == "HTTP/1.1" ? 1 : 0));
    }
  }
}

TEST_CASE("CONNECT with any other target, or the authority-form with any other method, is 400") {
  const std::vector<std::string> bad = {
      // CONNECT names host and port, nothing else (RFC 9112 §3.2.3).
      "CONNECT / HTTP/1.1\r\n\r\n",
      "CONNECT /example.com:443 HTTP/1.1\r\n\r\n",
      "CONNECT * HTTP/1.1\r\n\r\n",
      "CONNECT http://example.com:443/ HTTP/1.1\r\n\r\n",
      "CONNECT https://example.com:443 HTTP/1.1\r\n\r\n",
      "CONNECT example.com HTTP/1.1\r\n\r\n",         // no port
      "CONNECT example.com: HTTP/1.1\r\n\r\n",        // an empty port
      "CONNECT :443 HTTP/1.1\r\n\r\n",                // no host
      "CONNECT example.com:https HTTP/1.1\r\n\r\n",   // not decimal
      "CONNECT example.com:65536 HTTP/1.1\r\n\r\n",   // not a TCP port
      "CONNECT example.com:000443 HTTP/1.1\r\n\r\n",  // six digits
      "CONNECT example.com:443:1 HTTP/1.1\r\n\r\n",
      "CONNECT example.com:+443 HTTP/1.1\r\n\r\n",
      "CONNECT user@example.com:443 HTTP/1.1\r\n\r\n",  // userinfo
      "CONNECT example.com:443/ HTTP/1.1\r\n\r\n",
      "CONNECT example.com:443? HTTP/1.1\r\n\r\n",
      "CONNECT exa%2mple.com:443 HTTP/1.1\r\n\r\n",
      "CONNECT [2001:db8::1:443 HTTP/1.1\r\n\r\n",  // no closing bracket
      "CONNECT []:443 HTTP/1.1\r\n\r\n",
      "CONNECT [::1] HTTP/1.1\r\n\r\n",
      "CONNECT [::1]x:443 HTTP/1.1\r\n\r\n",
      "CONNECT [fe80::1%25eth0]:443 HTTP/1.1\r\n\r\n",
      "CONNECT 2001:db8::1:443 HTTP/1.1\r\n\r\n",  // an IPv6 literal without brackets
      // Method names are case-sensitive (RFC 9110 §9.1): these are not CONNECT.
      "connect example.com:443 HTTP/1.1\r\n\r\n",
      "Connect example.com:443 HTTP/1.1\r\n\r\n",
      "CONNECTX example.com:443 HTTP/1.1\r\n\r\n",
      // The authority-form is CONNECT's alone.
      "GET example.com:443 HTTP/1.1\r\n\r\n",
      "POST example.com:443 HTTP/1.1\r\n\r\n",
      "OPTIONS example.com:443 HTTP/1.1\r\n\r\n",
      "GET [::1]:443 HTTP/1.1\r\n\r\n",
  };
  for (const std::string& head : bad) {
    CAPTURE(head);
    const Parsed whole = parse(head);
    CHECK(whole.outcome == Outcome::kError);
    CHECK(whole.status == 400);
    const Parsed growing = parse_growing(head);
    CHECK(growing.outcome == Outcome::kError);
    CHECK(growing.status == 400);
  }
}

TEST_CASE("only a CONNECT is marked as one, and reset clears the mark") {
  HttpHeadParser parser({});
  REQUIRE(parser.parse_request(span_of("CONNECT h:1 HTTP/1.1\r\n\r\n")) == Outcome::kComplete);
  CHECK(parser.is_connect());
  parser.reset();
  for (const char* head : {"GET / HTTP/1.1\r\n\r\n", "GET http://h:1/ HTTP/1.1\r\n\r\n",
                           "OPTIONS * HTTP/1.1\r\n\r\n", "CONNECTS / HTTP/1.1\r\n\r\n"}) {
    CAPTURE(head);
    REQUIRE(parser.parse_request(span_of(head)) == Outcome::kComplete);
    CHECK_FALSE(parser.is_connect());
    parser.reset();
  }
}
