// HttpRequestDecoder: one test case per RFC 9112 rule and per known request-smuggling vector,
// each checked on the decoder alone (HttpDecodeError with its status, nothing decoded after it)
// and through HttpServerCodec (the error response with "Connection: close", then a closed
// connection); then valid requests, pipelining and split input.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "sluice/buffer/pooled_allocator.hpp"

using namespace sluice;
using namespace sluice::http;
using sluice::test::bytes;
using sluice::test::check_rejected;
using sluice::test::decode_requests;
using Lines = std::vector<std::string>;

namespace {

// Closes the channel as soon as a request head reaches it (an application that refuses a
// client by dropping it), and keeps what it saw.
class CloseOnRequest final : public ChannelHandler {
 public:
  explicit CloseOnRequest(std::vector<std::string>& seen) : seen_(seen) {}
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (const auto* request = message.get_if<HttpRequest>()) {
      seen_.push_back("request " + std::string(request->target()));
      ctx.close();
    } else if (const auto* content = message.get_if<HttpContent>()) {
      seen_.push_back(content->last ? "last" : "content");
    } else if (const auto* error = message.get_if<HttpDecodeError>()) {
      seen_.push_back("error " + std::to_string(error->status) + " " + error->reason);
    }
  }

 private:
  std::vector<std::string>& seen_;
};

const std::string kGet = "GET / HTTP/1.1\r\n";
const std::string kPost = "POST / HTTP/1.1\r\n";
const std::string kChunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
const std::string kNul(1, '\0');

// `count` field lines "X-<i>: vvv..." with values of `value_size` octets.
std::string field_lines(int count, std::size_t value_size) {
  std::string lines;
  for (int i = 0; i < count; ++i) {
    lines += "X-" + std::to_string(i) + ": " + std::string(value_size, 'v') + "\r\n";
  }
  return lines;
}

struct Vector {
  std::string rule;
  std::string raw;
  int status;
};

const std::vector<Vector>& vectors() {
  static const std::vector<Vector> all = {
      // RFC 9112 §6.3: Content-Length with Transfer-Encoding (CL.TE / TE.CL smuggling).
      {"cl-te", kPost + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"cl-te", kPost + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", 400},
      {"cl-te", kPost + "Content-Length: 0\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
      // RFC 9110 §8.6: one Content-Length, 1*DIGIT.
      {"cl-differing", kPost + "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
      {"cl-identical", kPost + "Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello", 400},
      {"cl-list", kPost + "Content-Length: 5, 5\r\n\r\nhello", 400},
      {"cl-list", kPost + "Content-Length: 5,6\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length: +5\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length: -5\r\n\r\n", 400},
      {"cl-not-decimal", kPost + "Content-Length: 0x5\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length: 5a\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length: 5 5\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length: 5.0\r\n\r\nhello", 400},
      {"cl-not-decimal", kPost + "Content-Length:\r\n\r\n", 400},
      {"cl-overflow", kPost + "Content-Length: 18446744073709551616\r\n\r\n", 400},
      {"cl-overflow", kPost + "Content-Length: 99999999999999999999999999999\r\n\r\n", 400},
      // RFC 9112 §6.1: chunked final and once; another coding before it is not implemented.
      {"te-final-not-chunked", kPost + "Transfer-Encoding: gzip\r\n\r\n", 400},
      {"te-final-not-chunked", kPost + "Transfer-Encoding: chunked, gzip\r\n\r\n", 400},
      {"te-final-not-chunked",
       kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n", 400},
      {"te-final-not-chunked", kPost + "Transfer-Encoding:\r\n\r\n", 400},
      {"te-final-not-chunked", kPost + "Transfer-Encoding: chunkedx\r\n\r\n", 400},
      {"te-unknown-before-chunked", kPost + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"te-unknown-before-chunked",
       kPost + "Transfer-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n", 501},
      {"te-chunked-twice", kPost + "Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
      {"te-chunked-twice",
       kPost + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"te-http10", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      // RFC 9112 §5.1: no whitespace between name and colon.
      {"space-before-colon", kPost + "Content-Length : 5\r\n\r\nhello", 400},
      {"space-before-colon", kPost + "Transfer-Encoding\t: chunked\r\n\r\n0\r\n\r\n", 400},
      // RFC 9112 §5.2 obs-fold, §2.2 whitespace after the request line.
      {"obs-fold", kGet + "X-A: a\r\n b\r\n\r\n", 400},
      {"obs-fold", kGet + "X-A: a\r\n\tb\r\n\r\n", 400},
      {"leading-whitespace-line", kGet + " X-A: a\r\n\r\n", 400},
      // RFC 9112 §2.2: CRLF only.
      {"bare-cr", "GET /\r HTTP/1.1\r\n\r\n", 400},
      {"bare-cr", "GET / HTTP/1.1\r\r\n\r\n", 400},
      {"bare-cr", kGet + "X-A: a\rb\r\n\r\n", 400},
      {"bare-cr", kGet + "X-A: a\r\r\n\r\n", 400},
      {"bare-cr", kGet + "X-A: a\r\n\rX-B: b\r\n\r\n", 400},
      {"bare-cr", kGet + "X-A: a\r\n\r\r\n", 400},
      {"bare-lf", "GET / HTTP/1.1\nHost: x\r\n\r\n", 400},
      {"bare-lf", kGet + "X-A: a\nX-B: b\r\n\r\n", 400},
      {"bare-lf", kGet + "X-A: a\r\n\n", 400},
      {"bare-lf", "\nGET / HTTP/1.1\r\n\r\n", 400},
      // RFC 9110 §5.5: field-value octets.
      {"control-in-value", kGet + "X-A: a" + kNul + "b\r\n\r\n", 400},
      {"control-in-value", kGet + "X-A: a\x01\r\n\r\n", 400},
      {"control-in-value", kGet + "X-A: \x1f\r\n\r\n", 400},
      {"control-in-value", kGet + "X-A: a\x7f\r\n\r\n", 400},
      {"control-in-value",
       kGet + "X-A: a\x0b"
              "b\r\n\r\n",
       400},
      {"control-in-value",
       kGet + "X-A: a\x0c"
              "b\r\n\r\n",
       400},
      // RFC 9110 §5.6.2: tokens.
      {"bad-method", "G(ET / HTTP/1.1\r\n\r\n", 400},
      {"bad-method", "GE@T / HTTP/1.1\r\n\r\n", 400},
      {"bad-method", "[GET] / HTTP/1.1\r\n\r\n", 400},
      {"bad-method", "GE" + kNul + "T / HTTP/1.1\r\n\r\n", 400},
      {"bad-method", " / HTTP/1.1\r\n\r\n", 400},
      {"bad-method", std::string(40, 'M') + " / HTTP/1.1\r\n\r\n", 400},
      {"bad-name", kGet + "X(A): b\r\n\r\n", 400},
      {"bad-name", kGet + "X\"A: b\r\n\r\n", 400},
      {"bad-name", kGet + "X A: b\r\n\r\n", 400},
      {"bad-name", kGet + "X/A: b\r\n\r\n", 400},
      {"bad-name", kGet + "X{A}: b\r\n\r\n", 400},
      {"bad-name",
       kGet + "X\x01"
              "A: b\r\n\r\n",
       400},
      {"bad-name", kGet + ": b\r\n\r\n", 400},
      {"bad-name", kGet + "X-A b\r\n\r\n", 400},
      {"bad-name", kGet + "X-\xC3\xBC: b\r\n\r\n", 400},
      // RFC 9112 §7.1: chunk-size = 1*HEXDIG, CRLF after it and after the data.
      {"chunk-size", kChunked + "g\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "0x5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "-1\r\nh\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "+5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + " 5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "5 \r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "5\t\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "5 5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-size", kChunked + "10000000000000000\r\nhello\r\n0\r\n\r\n", 400},  // 2^64
      {"chunk-size", kChunked + "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},  // 17 digits
      {"chunk-size", kChunked + "1" + std::string(16, '0') + "5\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;=x\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=\"open\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a b\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=b c\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=b=c\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;\"a\"\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=\"x\x01\"\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-ext", kChunked + "5;a=@\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-data-crlf", kChunked + "5\r\nhelloX\r\n0\r\n\r\n", 400},
      {"chunk-data-crlf", kChunked + "5\r\nhello\n0\r\n\r\n", 400},
      {"chunk-data-crlf", kChunked + "5\r\nhello\rX0\r\n\r\n", 400},
      {"chunk-data-crlf", kChunked + "5\r\nhello0\r\n\r\n", 400},
      {"chunk-data-crlf", kChunked + "3\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-line-ending", kChunked + "5\nhello\r\n0\r\n\r\n", 400},
      {"chunk-line-ending", kChunked + "5\r;a\r\nhello\r\n0\r\n\r\n", 400},
      {"chunk-line-ending", kChunked + "0\n\r\n", 400},
      {"chunk-line-ending", kChunked + "0\r\nX-T: a\n\r\n", 400},
      {"chunk-line-ending", kChunked + "0\r\n\n", 400},
      {"chunk-line-ending", kChunked + "0\r\nX-T : a\r\n\r\n", 400},
      // RFC 9112 §2.3: HTTP-version = "HTTP/" DIGIT "." DIGIT.
      {"version", "GET / HTTP/2.0\r\n\r\n", 505},
      {"version", "GET / HTTP/3.0\r\n\r\n", 505},
      {"version", "GET / HTTP/0.9\r\n\r\n", 505},
      {"version", "GET / http/1.1\r\n\r\n", 400},
      {"version", "GET / HTTP/1\r\n\r\n", 400},
      {"version", "GET / HTTP/1.01\r\n\r\n", 400},
      {"version", "GET / HTTP/11.1\r\n\r\n", 400},
      {"version", "GET / HTTP/1.1x\r\n\r\n", 400},
      {"version", "GET / RTSP/1.0\r\n\r\n", 400},
      {"version", "SOURCE / ICE/1.0\r\n\r\n", 400},
      {"version", "GET /\r\n\r\n", 400},
      // RFC 9112 §3: exactly one SP between the parts.
      {"request-line-spaces", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"request-line-spaces", "GET /  HTTP/1.1\r\n\r\n", 400},
      {"request-line-spaces", "GET / HTTP/1.1 \r\n\r\n", 400},
      {"request-line-spaces", " GET / HTTP/1.1\r\n\r\n", 400},
      {"request-line-spaces", "GET\t/ HTTP/1.1\r\n\r\n", 400},
      {"request-line-spaces", "GET /\tHTTP/1.1\r\n\r\n", 400},
      {"request-line-spaces", "GET /a b HTTP/1.1\r\n\r\n", 400},
      // RFC 9112 §3.2: origin-form, absolute-form or "*"; octets 0x21-0x7E.
      {"target-form", "GET foo HTTP/1.1\r\n\r\n", 400},
      {"target-form", "GET 127.0.0.1:80 HTTP/1.1\r\n\r\n", 400},
      {"target-form", "CONNECT / HTTP/1.1\r\n\r\n", 400},
      {"target-form", "CONNECT example.com HTTP/1.1\r\n\r\n", 400},
      {"target-form", "CONNECT http://example.com:443/ HTTP/1.1\r\n\r\n", 400},
      // RFC 9110 §9.3.6: a CONNECT has no content; announced, its bytes could be read as a
      // body or as the tunnel's.
      {"connect-content", "CONNECT example.com:443 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
       400},
      {"connect-content", "CONNECT example.com:443 HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", 400},
      {"connect-content",
       "CONNECT example.com:443 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"target-form", "GET http:/x HTTP/1.1\r\n\r\n", 400},
      {"target-form", "GET *x HTTP/1.1\r\n\r\n", 400},
      {"target-form", "GET /a\x7f HTTP/1.1\r\n\r\n", 400},
      {"target-form", "GET /\xC3\xBC HTTP/1.1\r\n\r\n", 400},
      // Limits.
      {"target-too-long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\n\r\n", 414},
      {"header-section-too-large", kGet + field_lines(200, 80) + "\r\n", 431},
      {"header-line-too-long", kGet + "X-A: " + std::string(20000, 'v') + "\r\n\r\n", 431},
      {"too-many-fields", kGet + field_lines(1001, 1) + "\r\n", 431},
      {"chunk-line-too-long", kChunked + "5;a=" + std::string(5000, 'b') + "\r\nhello\r\n0\r\n\r\n",
       400},
  };
  return all;
}

void check_rule(std::string_view rule) {
  int checked = 0;
  for (const Vector& vector : vectors()) {
    if (vector.rule != rule) continue;
    ++checked;
    check_rejected(vector.raw, vector.status);
  }
  REQUIRE(checked > 0);
}

// The request the decoder makes of `head`, one whole request head.
HttpRequest first_request(const std::string& head) {
  auto channel = sluice::test::request_decoder();
  channel->write_inbound(bytes(head));
  Message message = channel->read_inbound();
  REQUIRE(message.is<HttpRequest>());
  return std::move(message.as<HttpRequest>());
}

}  // namespace

// --- request smuggling vectors and RFC 9112 rules -------------------------------------------

TEST_CASE("Content-Length together with Transfer-Encoding is rejected (CL.TE smuggling)") {
  check_rule("cl-te");
}
TEST_CASE("two differing Content-Length lines are rejected") {
  check_rule("cl-differing");
}
TEST_CASE("two identical Content-Length lines are rejected too") {
  check_rule("cl-identical");
}
TEST_CASE("a Content-Length list is rejected") {
  check_rule("cl-list");
}
TEST_CASE("a Content-Length that is not decimal digits is rejected") {
  check_rule("cl-not-decimal");
}
TEST_CASE("a Content-Length too large to represent is rejected") {
  check_rule("cl-overflow");
}
TEST_CASE("a Transfer-Encoding whose final coding is not chunked is rejected with 400") {
  check_rule("te-final-not-chunked");
}
TEST_CASE("an unknown transfer coding before chunked is answered 501") {
  check_rule("te-unknown-before-chunked");
}
TEST_CASE("chunked listed twice is rejected") {
  check_rule("te-chunked-twice");
}
TEST_CASE("Transfer-Encoding in an HTTP/1.0 request is rejected") {
  check_rule("te-http10");
}
TEST_CASE("whitespace between a field name and the colon is rejected") {
  check_rule("space-before-colon");
}
TEST_CASE("obs-fold is rejected") {
  check_rule("obs-fold");
}
TEST_CASE("a whitespace-prefixed line right after the request line is rejected") {
  check_rule("leading-whitespace-line");
}
TEST_CASE("a bare CR anywhere in the head is rejected") {
  check_rule("bare-cr");
}
TEST_CASE("a bare LF anywhere in the head is rejected") {
  check_rule("bare-lf");
}
TEST_CASE("NUL and other control characters in a field value are rejected") {
  check_rule("control-in-value");
}
TEST_CASE("a method that is not a token is rejected") {
  check_rule("bad-method");
}
TEST_CASE("a field name that is not a token is rejected") {
  check_rule("bad-name");
}
TEST_CASE("invalid chunk sizes are rejected: not hex, whitespace, overflow, over 16 digits") {
  check_rule("chunk-size");
}
TEST_CASE("malformed chunk extensions are rejected") {
  check_rule("chunk-ext");
}
TEST_CASE("chunk data not followed by CRLF is rejected") {
  check_rule("chunk-data-crlf");
}
TEST_CASE("bare LF or CR in chunk lines and trailers is rejected") {
  check_rule("chunk-line-ending");
}
TEST_CASE("a version other than HTTP/1.x is 505, a malformed one 400") {
  check_rule("version");
}
TEST_CASE("a request line with other than one SP between its parts is rejected") {
  check_rule("request-line-spaces");
}
TEST_CASE("a target not in origin, absolute or asterisk form is rejected") {
  check_rule("target-form");
}
TEST_CASE("a CONNECT that announces content is rejected") {
  check_rule("connect-content");
}
TEST_CASE("a request target over 8 KiB is answered 414") {
  check_rule("target-too-long");
}
TEST_CASE("a header section over 16 KiB is answered 431") {
  check_rule("header-section-too-large");
}
TEST_CASE("a single header line over 16 KiB is answered 431") {
  check_rule("header-line-too-long");
}
TEST_CASE("more header fields than the cap is answered 431") {
  check_rule("too-many-fields");
}
TEST_CASE("a chunk size line over its cap is rejected") {
  check_rule("chunk-line-too-long");
}

TEST_CASE("an endless header line is answered 431 as soon as it crosses the limit") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes(kGet + "X-A: "));
  const std::string chunk(1024, 'v');
  std::size_t sent = kGet.size() + 5;
  bool answered = false;
  while (!answered && sent < 64 * 1024) {
    channel->write_inbound(bytes(chunk));
    sent += chunk.size();
    answered = channel->outbound_count() != 0;
  }
  REQUIRE(answered);
  // Answered within one read of crossing 16 KiB, without waiting for the line's end.
  CHECK(sent <= kGet.size() + 16 * 1024 + chunk.size());
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 431);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("an endless request line is answered 414 without waiting for its end") {
  auto channel = test::server_channel();
  const std::string chunk(1024, 'a');
  channel->write_inbound(bytes("GET /"));
  std::size_t sent = 5;
  while (channel->outbound_count() == 0 && sent < 64 * 1024) {
    channel->write_inbound(bytes(chunk));
    sent += chunk.size();
  }
  CHECK(sent <= 8192 + 64 + 2 * chunk.size());
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 414);
  CHECK(outcome.closed);
}

TEST_CASE("a malformed request split at every byte position gives the same error") {
  for (const Vector& vector : vectors()) {
    if (vector.raw.size() > 400) continue;
    CAPTURE(vector.raw);
    const Lines whole = decode_requests(vector.raw);
    REQUIRE_FALSE(whole.empty());
    for (std::size_t cut = 1; cut < vector.raw.size(); ++cut) {
      CAPTURE(cut);
      CHECK(test::decode_requests_in_pieces(vector.raw, {cut}) == whole);
    }
    auto channel = test::request_decoder();
    test::write_byte_by_byte(*channel, vector.raw);
    CHECK(test::describe_inbound(*channel) == whole);
  }
}

TEST_CASE("a request line over its limit gets the status of its whole form however it is split") {
  // Judged before its end arrived, such a line was a 414 whatever was wrong with it; whole, a
  // method too long is a 400, and so is a target that stops at an octet no target may hold.
  const std::string long_target(9000, 'a');
  const std::vector<std::string> lines = {
      std::string(40, 'M') + " /" + long_target + " HTTP/1.1\r\n\r\n",
      "GET /\xff" + long_target + " HTTP/1.1\r\n\r\n",
      "GET /" + long_target + " HTTP/1.1\r\n\r\n",
  };
  for (const std::string& raw : lines) {
    CAPTURE(raw.substr(0, 48));
    const Lines whole = decode_requests(raw);
    REQUIRE(whole.size() == 1);
    for (const std::size_t cut : {std::size_t{100}, std::size_t{8300}, raw.size() - 4}) {
      CAPTURE(cut);
      CHECK(test::decode_requests_in_pieces(raw, {cut}) == whole);
    }
    auto channel = test::request_decoder();
    test::write_byte_by_byte(*channel, raw);
    CHECK(test::describe_inbound(*channel) == whole);
  }
  CHECK(decode_requests(lines[0]) == Lines{"error 400"});
  CHECK(decode_requests(lines[1]) == Lines{"error 400"});
  CHECK(decode_requests(lines[2]) == Lines{"error 414"});
}

// --- valid requests -------------------------------------------------------------------------

TEST_CASE("method, target and version are views into the buffer the head arrived in") {
  auto channel = test::request_decoder();
  Buffer input = bytes("PATCH /a/b?c=d#e HTTP/1.1\r\nHost: example.com\r\n\r\n");
  const char* start = reinterpret_cast<const char*>(input.readable_span().data());
  channel->write_inbound(std::move(input));
  Message message = channel->read_inbound();
  REQUIRE(message.is<HttpRequest>());
  const auto& request = message.as<HttpRequest>();
  CHECK(request.method() == "PATCH");
  CHECK(request.target() == "/a/b?c=d#e");
  CHECK(request.version() == "HTTP/1.1");
  CHECK(request.version_minor() == 1);
  CHECK(request.method().data() == start);
  CHECK(request.target().data() == start + 6);
  CHECK(request.headers().get("host")->data() == start + 33);
  Message end = channel->read_inbound();
  REQUIRE(end.is<HttpContent>());
  CHECK(end.as<HttpContent>().last);
  CHECK(end.as<HttpContent>().data.readable_bytes() == 0);
}

TEST_CASE("any token is a method, and origin, absolute and asterisk targets are accepted") {
  CHECK(decode_requests("M-SEARCH * HTTP/1.1\r\n\r\n") ==
        Lines{"M-SEARCH * HTTP/1.1 keep-alive", "body ''"});
  CHECK(decode_requests("get http://example.com:8080/x?y HTTP/1.1\r\n\r\n") ==
        Lines{"get http://example.com:8080/x?y HTTP/1.1 keep-alive", "body ''"});
  CHECK(decode_requests("GET /\"|\\^`{}#frag HTTP/1.1\r\n\r\n") ==
        Lines{"GET /\"|\\^`{}#frag HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("field values are trimmed of OWS, names keep their case and duplicates stay in order") {
  auto channel = test::request_decoder();
  channel->write_inbound(bytes(kGet +
                               "Host: h\r\nX-List: a\r\nx-list:b \r\nX-Pad:\t  inner  space \t\r\n"
                               "X-Obs: \xC3\xBC\r\nX-Empty:\r\n\r\n"));
  Message message = channel->read_inbound();
  REQUIRE(message.is<HttpRequest>());
  const HttpFields& headers = message.as<HttpRequest>().headers();
  REQUIRE(headers.size() == 6);
  CHECK(headers[1].name == "X-List");
  CHECK(headers[2].name == "x-list");
  CHECK(headers[2].value == "b");
  CHECK(headers.count("X-LIST") == 2);
  CHECK(*headers.get("x-LiSt") == "a");  // the first one
  CHECK(*headers.get("X-Pad") == "inner  space");
  CHECK(*headers.get("X-Obs") == "\xC3\xBC");
  CHECK(headers.get("X-Empty")->empty());
  CHECK_FALSE(headers.contains("X-Missing"));
}

TEST_CASE("keep_alive follows the version and the Connection options") {
  struct Case {
    std::string head;
    bool keep_alive;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: CLOSE\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: upgrade, close\t\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
      {"GET / HTTP/1.0\r\nConnection: Upgrade ,  Keep-Alive\r\n\r\n", true},
      // RFC 9112 §9.3: the close option wins, whatever the version.
      {"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.head);
    CHECK(first_request(c.head).keep_alive() == c.keep_alive);
  }
}

TEST_CASE("upgrade() needs HTTP/1.1, a protocol in Upgrade and the upgrade connection option") {
  // RFC 9110 §7.8. A request that asks to close ends the connection: nothing follows to switch.
  struct Case {
    std::string head;
    bool upgrade;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nconnection: keep-alive, UPGRADE\r\nUPGRADE: h2c\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nUpgrade: ,\r\nUpgrade: a/1\r\nConnection: upgrade\r\n\r\n", true},
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgraded\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nUpgrade: , \r\nConnection: upgrade\r\n\r\n", false},
      {"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade, close\r\n\r\n", false},
      {"GET / HTTP/1.0\r\nUpgrade: h2c\r\nConnection: upgrade, keep-alive\r\n\r\n", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.head);
    CHECK(first_request(c.head).upgrade() == c.upgrade);
  }
  // On its own the decoder cannot know the answer, so it goes on decoding.
  CHECK(decode_requests("GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n"
                        "GET /next HTTP/1.1\r\n\r\n")
            .size() == 4);
}

TEST_CASE("is_connect() marks a CONNECT, which has no content and may be HTTP/1.0") {
  const HttpRequest connect = first_request("CONNECT example.com:443 HTTP/1.1\r\n\r\n");
  CHECK(connect.is_connect());
  CHECK(connect.method() == "CONNECT");
  CHECK(connect.target() == "example.com:443");
  CHECK_FALSE(connect.upgrade());
  CHECK_FALSE(first_request("GET / HTTP/1.1\r\n\r\n").is_connect());
  CHECK_FALSE(first_request("GET http://example.com:443/ HTTP/1.1\r\n\r\n").is_connect());
  // Content-Length: 0 announces no content.
  CHECK(decode_requests("CONNECT [::1]:8443 HTTP/1.1\r\nContent-Length: 0\r\n\r\n") ==
        Lines{"CONNECT [::1]:8443 HTTP/1.1 keep-alive length=0 [Content-Length: 0]", "body ''"});
  // Old clients send HTTP/1.0 without keep-alive: only the answer says whether the connection
  // goes on (a 2xx makes it the tunnel), so what follows is not dropped but, on the decoder
  // alone, decoded.
  const HttpRequest old = first_request("CONNECT example.com:443 HTTP/1.0\r\n\r\n");
  CHECK(old.is_connect());
  CHECK_FALSE(old.keep_alive());
  CHECK(decode_requests("CONNECT h:1 HTTP/1.0\r\n\r\nGET /next HTTP/1.1\r\n\r\n") ==
        Lines{"CONNECT h:1 HTTP/1.0 close", "body ''", "GET /next HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("a CONNECT needs a Host like any HTTP/1.1 request, but not one that matches") {
  // RFC 9112 §3.2 requires Host of every HTTP/1.1 request; §3.3 makes a CONNECT's target URI
  // from its authority-form alone, so Host says nothing about the destination.
  const HttpLimits strict;
  for (const char* good : {
           // curl -p -x
           "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
           "User-Agent: curl/8.5.0\r\nProxy-Connection: Keep-Alive\r\n\r\n",
           "CONNECT example.com:443 HTTP/1.1\r\nHost: proxy.local:3128\r\n\r\n",
           "CONNECT [2001:db8::1]:443 HTTP/1.1\r\nHost: [2001:db8::1]:443\r\n\r\n",
           "CONNECT example.com:443 HTTP/1.0\r\n\r\n",
       }) {
    CAPTURE(good);
    const Lines lines = decode_requests(good, strict);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind("CONNECT ", 0) == 0);
  }
  for (const char* bad : {"CONNECT example.com:443 HTTP/1.1\r\n\r\n",
                          "CONNECT example.com:443 HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
                          "CONNECT example.com:443 HTTP/1.1\r\nHost: a/b\r\n\r\n"}) {
    CAPTURE(bad);
    check_rejected(bad, 400, strict);
  }
}

TEST_CASE("content_length, chunked and expects_continue describe the framing") {
  CHECK(decode_requests(kPost + "Content-Length: 005\r\n\r\nhello") ==
        Lines{"POST / HTTP/1.1 keep-alive length=5 [Content-Length: 005]", "body 'hello'"});
  CHECK(decode_requests(kPost + "Content-Length: \t3 \r\n\r\nabc") ==
        Lines{"POST / HTTP/1.1 keep-alive length=3 [Content-Length: 3]", "body 'abc'"});
  CHECK(decode_requests(kPost + "Content-Length: 0\r\n\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive length=0 [Content-Length: 0]", "body ''"});
  CHECK(decode_requests(kPost + "Transfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: CHUNKED]", "body ''"});
  CHECK(decode_requests(kPost + "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx") ==
        Lines{"POST / HTTP/1.1 keep-alive length=1 expects-continue [Expect: 100-Continue] "
              "[Content-Length: 1]",
              "body 'x'"});
  CHECK(decode_requests("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx") ==
        Lines{"POST / HTTP/1.0 close length=1 [Expect: 100-continue] [Content-Length: 1]",
              "body 'x'"});
}

TEST_CASE("framing field names match in any case, and only the names themselves") {
  CHECK(decode_requests(kPost + "cOnTeNt-LeNgTh: 2\r\n\r\nhi") ==
        Lines{"POST / HTTP/1.1 keep-alive length=2 [cOnTeNt-LeNgTh: 2]", "body 'hi'"});
  CHECK(decode_requests(kPost + "TRANSFER-ENCODING: chunked\r\n\r\n0\r\n\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [TRANSFER-ENCODING: chunked]", "body ''"});
  CHECK(decode_requests("GET / HTTP/1.1\r\nCONNECTION: close\r\n\r\n") ==
        Lines{"GET / HTTP/1.1 close [CONNECTION: close]", "body ''"});
  CHECK(decode_requests(kPost + "EXPECT: 100-continue\r\nContent-Length: 1\r\n\r\nx") ==
        Lines{"POST / HTTP/1.1 keep-alive length=1 expects-continue [EXPECT: 100-continue] "
              "[Content-Length: 1]",
              "body 'x'"});
  // Token octets next to '-' and the letters: none of them names a framing field, so these
  // requests have no body and keep the connection.
  for (const char* near_miss :
       {"Content_Length: 2", "Content.Length: 2", "Content~Length: 2", "Content^Length: 2",
        "Content-Lengt: 2", "Content-Length2: 2", "Transfer_Encoding: chunked",
        "Connection_: close", "Connectio~: close", "Expect_: 100-continue"}) {
    CAPTURE(near_miss);
    const Lines lines = decode_requests(kPost + near_miss + "\r\n\r\n");
    REQUIRE(lines.size() == 2);
    CHECK(lines[0] == "POST / HTTP/1.1 keep-alive [" + std::string(near_miss) + "]");
    CHECK(lines[1] == "body ''");
  }
  const HttpLimits strict;
  CHECK(decode_requests("GET / HTTP/1.1\r\nHOST: a\r\n\r\n", strict).size() == 2);
  CHECK(decode_requests("GET / HTTP/1.1\r\nHos_: a\r\n\r\n", strict) == Lines{"error 400"});
}

TEST_CASE("a request with neither Content-Length nor Transfer-Encoding has no body") {
  CHECK(decode_requests("POST /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n") ==
        Lines{"POST /a HTTP/1.1 keep-alive", "body ''", "GET /b HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("a body on GET is framed and delivered like any other") {
  CHECK(decode_requests("GET / HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /2 HTTP/1.1\r\n\r\n") ==
        Lines{"GET / HTTP/1.1 keep-alive length=2 [Content-Length: 2]", "body 'hi'",
              "GET /2 HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("a Content-Length body arrives as slices of the reads, never copied") {
  auto channel = test::request_decoder();
  Buffer first = bytes(kPost + "Content-Length: 11\r\n\r\nhel");
  Buffer second = bytes("lo wor");
  Buffer third = bytes("ldGET");
  const std::byte* first_body = first.readable_span().data() + first.readable_bytes() - 3;
  const std::byte* second_body = second.readable_span().data();
  const std::byte* third_body = third.readable_span().data();
  channel->write_inbound(std::move(first), std::move(second), std::move(third));
  REQUIRE(channel->read_inbound().is<HttpRequest>());
  std::vector<const std::byte*> pieces;
  std::string body;
  for (Message m = channel->read_inbound(); m; m = channel->read_inbound()) {
    auto& content = m.as<HttpContent>();
    pieces.push_back(content.data.readable_span().data());
    body += test::text_of(content.data);
    if (content.last) break;
  }
  CHECK(body == "hello world");
  CHECK(pieces == std::vector<const std::byte*>{first_body, second_body, third_body});
}

TEST_CASE("a chunked body is de-chunked with extensions dropped and trailers kept") {
  const std::string raw = kChunked +
                          "5;name=value;flag\r\nhello\r\n"
                          "6 ; q=\"a;\\\"b\"\r\n world\r\n"
                          "000\r\nX-Checksum: abc \r\nX-Other:1\r\n\r\n"
                          "GET /next HTTP/1.1\r\n\r\n";
  CHECK(decode_requests(raw) ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]",
              "body 'hello world' trailers [X-Checksum: abc] [X-Other: 1]",
              "GET /next HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("leading zeros in a chunk size are not significant digits") {
  CHECK(decode_requests(kChunked + std::string(30, '0') + "5\r\nhello\r\n0000\r\n\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]", "body 'hello'"});
}

TEST_CASE("a Content-Length trailer does not change the framing") {
  CHECK(decode_requests(kChunked +
                        "1\r\na\r\n0\r\nContent-Length: 5\r\n\r\nGET / HTTP/1.1\r\n\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]",
              "body 'a' trailers [Content-Length: 5]", "GET / HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("chunk data arrives as slices of the reads, never copied") {
  auto channel = test::request_decoder();
  Buffer input = bytes(kChunked + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n");
  const std::byte* start = input.readable_span().data();
  channel->write_inbound(std::move(input));
  REQUIRE(channel->read_inbound().is<HttpRequest>());
  Message first = channel->read_inbound();
  Message second = channel->read_inbound();
  REQUIRE(first.is<HttpContent>());
  CHECK(first.as<HttpContent>().data.readable_span().data() == start + kChunked.size() + 3);
  CHECK(second.as<HttpContent>().data.readable_span().data() == start + kChunked.size() + 13);
  Message last = channel->read_inbound();
  CHECK(last.as<HttpContent>().last);
}

// A chunk-size line (with extensions, up to HttpLimits::max_chunk_line) trickling in a byte
// per read was searched for its LF from its first byte at every read, and kept one read buffer
// per read: work that grew with the square of its length. Each byte is now searched a bounded
// number of times (counted in debug builds, not timed), and the line is joined as it grows.
TEST_CASE("a chunk-size line trickling in a byte per read is not searched again at every read") {
  auto channel = test::request_decoder();
  channel->write_inbound(bytes(kChunked));
  REQUIRE(channel->read_inbound().is<HttpRequest>());
  const std::string extension = ";name=" + std::string(3000, 'v');
  const std::string line = "5" + extension + "\r\n";
  const std::string rest = "hello\r\n3" + extension + "\r\nabc\r\n0\r\n\r\n";
  const auto live_before = PooledAllocator::metrics().live_buffers;
  const test::SearchedBytes searched;
  test::write_byte_by_byte(*channel, line.substr(0, line.size() - 1));
  CHECK(PooledAllocator::metrics().live_buffers - live_before < 64);
  test::write_byte_by_byte(*channel, "\n" + rest);
  CHECK(test::describe_inbound(*channel) == Lines{"body 'helloabc'"});
  CAPTURE(searched.count());
  CHECK(searched.at_most(2 * (line.size() + rest.size())));
}

TEST_CASE("empty lines before a request line are skipped") {
  CHECK(decode_requests("\r\n\r\nGET / HTTP/1.1\r\n\r\n\r\nGET /2 HTTP/1.1\r\n\r\n") ==
        Lines{"GET / HTTP/1.1 keep-alive", "body ''", "GET /2 HTTP/1.1 keep-alive", "body ''"});
}

TEST_CASE("a few hundred header fields are accepted and all reported") {
  std::string raw = kGet;
  for (int i = 0; i < 300; ++i)
    raw += "X-" + std::to_string(i) + ": " + std::to_string(i) + "\r\n";
  raw += "\r\n";
  auto channel = test::request_decoder();
  channel->write_inbound(bytes(raw));
  Message message = channel->read_inbound();
  REQUIRE(message.is<HttpRequest>());
  const auto& headers = message.as<HttpRequest>().headers();
  REQUIRE(headers.size() == 300);
  CHECK(headers[299].name == "X-299");
  CHECK(headers[299].value == "299");
}

TEST_CASE("pipelined requests come out in order") {
  const std::string raw = "GET /1 HTTP/1.1\r\n\r\n" + kPost + "Content-Length: 3\r\n\r\nabc" +
                          "HEAD /3 HTTP/1.1\r\n\r\n" + kChunked + "2\r\nxy\r\n0\r\n\r\n";
  CHECK(decode_requests(raw) ==
        Lines{"GET /1 HTTP/1.1 keep-alive", "body ''",
              "POST / HTTP/1.1 keep-alive length=3 [Content-Length: 3]", "body 'abc'",
              "HEAD /3 HTTP/1.1 keep-alive", "body ''",
              "POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]", "body 'xy'"});
}

TEST_CASE("after a request that ends the connection the rest of the input is ignored") {
  CHECK(decode_requests("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\n\r\n") ==
        Lines{"GET /1 HTTP/1.1 close [Connection: close]", "body ''"});
  CHECK(decode_requests("GET /1 HTTP/1.0\r\n\r\nGET /2 HTTP/1.1\r\n\r\n") ==
        Lines{"GET /1 HTTP/1.0 close", "body ''"});
  CHECK(decode_requests("GET /1 HTTP/1.1\r\nConnection: close\r\n\r\ngarbage\r\n\r\n") ==
        Lines{"GET /1 HTTP/1.1 close [Connection: close]", "body ''"});
}

TEST_CASE("an incomplete request produces nothing yet") {
  CHECK(decode_requests("GET / HTTP/1.1\r\nHost: x\r\n").empty());
  CHECK(decode_requests(kPost + "Content-Length: 5\r\n\r\nhel") ==
        Lines{"POST / HTTP/1.1 keep-alive length=5 [Content-Length: 5]", "partial body 'hel'"});
}

TEST_CASE("input that ends inside a request is a 400 error; an end between requests is not") {
  // RFC 9112 §8: the request is incomplete. Left silent, a half-closed connection kept the
  // request waiting for the rest of itself until the idle timeout.
  const auto decode_then_end = [](std::string_view raw) {
    auto channel = test::request_decoder();
    channel->write_inbound(bytes(raw));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    return test::describe_inbound(*channel);
  };
  CHECK(decode_then_end("GET / HTTP/1.1\r\nHost: x\r\n") == Lines{"error 400"});
  CHECK(decode_then_end(kPost + "Content-Length: 5\r\n\r\nhel") ==
        Lines{"POST / HTTP/1.1 keep-alive length=5 [Content-Length: 5]", "partial body 'hel'",
              "error 400 in body"});
  CHECK(decode_then_end(kChunked + "5\r\nhello\r\n") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]",
              "partial body 'hello'", "error 400 in body"});
  CHECK(decode_then_end("GET /a HTTP/1.1\r\n\r\n") ==
        Lines{"GET /a HTTP/1.1 keep-alive", "body ''"});
  CHECK(decode_then_end("GET /a HTTP/1.1\r\nConnection: close\r\n\r\nGET /b") ==
        Lines{"GET /a HTTP/1.1 close [Connection: close]", "body ''"});
}

TEST_CASE("every request split at every byte position gives the same messages") {
  const std::string raw = "\r\nGET /a?b=c HTTP/1.1\r\nHost: example.com\r\nX-Pad:  v  \r\n\r\n" +
                          kPost + "Content-Length: 11\r\n\r\nhello world" + kChunked +
                          "4;ext=\"x\"\r\nwiki\r\n5\r\npedia\r\n0\r\nX-T: 1\r\n\r\n" +
                          "OPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" +
                          "GET /last HTTP/1.1\r\nConnection: close\r\n\r\n";
  const Lines whole = decode_requests(raw);
  REQUIRE(whole.size() == 10);
  for (std::size_t i = 1; i < raw.size(); ++i) {
    CAPTURE(i);
    CHECK(test::decode_requests_in_pieces(raw, {i}) == whole);
    for (std::size_t j = i + 1; j < raw.size(); j += 7) {
      CAPTURE(j);
      CHECK(test::decode_requests_in_pieces(raw, {i, j}) == whole);
    }
  }
  auto channel = test::request_decoder();
  test::write_byte_by_byte(*channel, raw);
  CHECK(test::describe_inbound(*channel) == whole);
}

TEST_CASE("a decode error in a body is marked as belonging to the request emitted last") {
  CHECK(decode_requests(kChunked + "5\r\nhelloX") ==
        Lines{"POST / HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]",
              "partial body 'hello'", "error 400 in body"});
  CHECK(decode_requests("GET / HTTP/1.1\r\nA : b\r\n\r\n") == Lines{"error 400"});
}

TEST_CASE("the limits are inclusive: a target of 8192 octets and a 16384-octet section pass") {
  const std::string target = "/" + std::string(8191, 't');
  const Lines at_limit = decode_requests("GET " + target + " HTTP/1.1\r\n\r\n");
  REQUIRE(at_limit.size() == 2);
  CHECK(at_limit[0].rfind("GET /ttt", 0) == 0);
  CHECK(decode_requests("GET " + target + "t HTTP/1.1\r\n\r\n") == Lines{"error 414"});

  // Field lines plus the empty line: 16384 octets exactly, then one more.
  const std::string filler = "X-Fill: ";
  const std::size_t value = 16384 - 2 - filler.size() - 2;
  const std::string section = filler + std::string(value, 'v') + "\r\n\r\n";
  REQUIRE(section.size() == 16384);
  CHECK(decode_requests(kGet + section).size() == 2);
  CHECK(decode_requests(kGet + filler + std::string(value + 1, 'v') + "\r\n\r\n") ==
        Lines{"error 431"});

  std::string fields;
  for (int i = 0; i < 1000; ++i)
    fields += "A: b\r\n";
  CHECK(decode_requests(kGet + fields + "\r\n").size() == 2);
}

TEST_CASE("Host is required of HTTP/1.1, once, and must be a host with an optional port") {
  // RFC 9112 §3.2, on by default (HttpLimits::require_host).
  const HttpLimits strict;
  CHECK(strict.require_host);
  const auto decoded = [&](std::string_view head) {
    return decode_requests("GET / " + std::string(head) + "\r\n\r\n", strict);
  };
  for (const char* good :
       {"HTTP/1.1\r\nHost: example.com", "HTTP/1.1\r\nHost: example.com:8080",
        "HTTP/1.1\r\nHost: 127.0.0.1:80", "HTTP/1.1\r\nHost: [::1]:8080",
        "HTTP/1.1\r\nHost: ", "HTTP/1.1\r\nhost: xn--bcher-kva.example",
        "HTTP/1.1\r\nHost: a%2Db.example", "HTTP/1.1\r\nHost: a-._~!$&'()*+,;=z", "HTTP/1.0"}) {
    CAPTURE(good);
    const Lines lines = decoded(good);
    REQUIRE(lines.size() == 2);
    CHECK(lines[0].rfind("GET / HTTP/1.", 0) == 0);
  }
  for (const char* bad :
       {"HTTP/1.1", "HTTP/1.1\r\nHost: a\r\nHost: a", "HTTP/1.0\r\nHost: a\r\nHost: b",
        "HTTP/1.1\r\nHost: user@example.com", "HTTP/1.1\r\nHost: example.com/path",
        "HTTP/1.1\r\nHost: example.com:80x", "HTTP/1.1\r\nHost: [::1", "HTTP/1.1\r\nHost: []",
        "HTTP/1.1\r\nHost: a b", "HTTP/1.1\r\nHost: %zz", "HTTP/1.1\r\nHost: a\"b",
        "HTTP/1.1\r\nHost: a#b", "HTTP/1.1\r\nHost: a^b",
        "HTTP/1.1\r\nHost: a\x80"
        "b"}) {
    CAPTURE(bad);
    CHECK(decoded(bad) == Lines{"error 400"});
  }
  // Off, a request is taken as it comes.
  CHECK(decode_requests("GET / HTTP/1.1\r\n\r\n").size() == 2);
}

TEST_CASE("an application that closes on a complete request gets no decode error") {
  // ctx.close() inside on_read runs on_inactive at once (Channel::close dispatches on the
  // loop thread): decode_last then sees receiving_ still set for a request without a body and
  // emits "the input ended inside a request body", then the request's last content after it.
  std::vector<std::string> seen;
  auto channel = EmbeddedChannel::create([&seen](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpRequestDecoder>(test::test_limits()));
    p.add_last("app", std::make_unique<CloseOnRequest>(seen));
  });
  channel->write_inbound(bytes("GET /a HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(channel->is_open());
  CHECK(seen == std::vector<std::string>{"request /a", "last"});
}
