#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/http/http_response.hpp"

using namespace sluice;
using namespace sluice::http;
using namespace std::chrono_literals;
using sluice::test::bytes;
using sluice::test::describe_inbound;
using Lines = std::vector<std::string>;

namespace {

// The output with every Date line's value replaced by "<date>".
std::string without_dates(std::string text) {
  for (std::size_t at = text.find("\r\nDate: "); at != std::string::npos;
       at = text.find("\r\nDate: ", at + 2)) {
    const std::size_t value = at + 8;
    text.replace(value, text.find("\r\n", value) - value, "<date>");
  }
  return text;
}

std::size_t occurrences(const std::string& text, const std::string& what) {
  std::size_t count = 0;
  for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
    ++count;
  return count;
}

// The request heads that reached the application, in order.
std::vector<std::string> targets(EmbeddedChannel& channel) {
  std::vector<std::string> found;
  for (Message m = channel.read_inbound(); m; m = channel.read_inbound()) {
    if (const auto* request = m.get_if<HttpRequest>()) found.emplace_back(request->target());
  }
  return found;
}

bool saw_fin(EmbeddedChannel& channel) {
  bool seen = false;
  return test::saw_output_shutdown(channel, seen);
}

HttpResponse ok(std::string_view body) {
  return HttpResponse(200).body(bytes(body));
}

}  // namespace

TEST_CASE("a request is answered with its response and the connection stays open") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n"));
  CHECK(describe_inbound(*channel) == Lines{"GET /hello HTTP/1.1 keep-alive [Host: x]", "body ''"});
  channel->write_outbound(ok("hi"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: <date>\r\n\r\nhi");
  CHECK_FALSE(saw_fin(*channel));
  CHECK(channel->is_open());
  // The connection goes on serving requests.
  channel->write_inbound(bytes("GET /again HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/again"});
}

TEST_CASE("a HEAD request gets the head of the response without its body") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEAD /h HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/h", "/g"});
  channel->write_outbound(ok("hello"), ok("hello"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: <date>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: <date>\r\n\r\nhello");
}

TEST_CASE("a streamed response to HEAD sends neither body bytes nor chunk framing") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEAD / HTTP/1.1\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
  channel->write_outbound(HttpResponse(200).streamed(), bytes("body"), HttpEnd{});
  channel->write_outbound(ok("second"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nDate: <date>\r\n\r\nsecond");
}

TEST_CASE(
    "an HTTP/1.0 request without keep-alive is answered with close, then the connection closes") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/"});
  channel->write_outbound(ok("bye"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: <date>\r\nConnection: close\r\n\r\nbye");
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

TEST_CASE("an HTTP/1.0 request with keep-alive gets keep-alive and the connection stays open") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  channel->write_outbound(ok("hi"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: <date>\r\nConnection: keep-alive\r\n\r\nhi");
  CHECK_FALSE(saw_fin(*channel));
  CHECK(channel->is_open());
}

TEST_CASE("Connection: close from an HTTP/1.1 client ends the connection after the response") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  channel->write_outbound(ok("x"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

TEST_CASE("a response that asks to close ends a keep-alive connection") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
  channel->write_outbound(HttpResponse(503).close_connection().body(bytes("busy")));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 503);
  CHECK(outcome.closed);
}

TEST_CASE("the graceful close sends FIN first and ends early when the peer closes") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(HttpLimits{}, 60s));
  });
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/"});
  channel->write_outbound(ok("x"));
  CHECK(saw_fin(*channel));
  CHECK(channel->is_open());  // lingering: reading and dropping what the client still sends
  channel->write_inbound(bytes("GET /late HTTP/1.1\r\n\r\n"));
  CHECK(channel->inbound_count() == 0);
  channel->finish();  // the peer closed
  CHECK_FALSE(channel->is_open());
}

TEST_CASE("pipelined requests are answered in order, each for its own request") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n"
            "GET /3 HTTP/1.0\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2", "/3"});
  channel->write_outbound(ok("one"), ok("two"), ok("three"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: <date>\r\n\r\none"
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: <date>\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: <date>\r\nConnection: close\r\n\r\nthree");
  CHECK(outcome.closed);
}

TEST_CASE("an error response waits behind the responses owed to earlier pipelined requests") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  CHECK(channel->outbound_count() == 0);  // nothing may overtake the first two responses
  channel->write_outbound(ok("one"));
  CHECK(occurrences(test::outbound_text(*channel), "HTTP/1.1 ") == 1);
  CHECK_FALSE(saw_fin(*channel));
  channel->write_outbound(ok("two"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 200);
  CHECK(outcome.output.find("HTTP/1.1 400 Bad Request\r\n") != std::string::npos);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("a malformed chunked body is answered with the error, for that request") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("POST /upload HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX\r\n"));
  CHECK(describe_inbound(*channel) ==
        Lines{"POST /upload HTTP/1.1 keep-alive chunked [Transfer-Encoding: chunked]",
              "partial body 'hello'"});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 400);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
  CHECK(outcome.closed);
}

TEST_CASE("a malformed body of a later pipelined request is answered after the earlier response") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\n"
            "POST /2 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  CHECK(channel->outbound_count() == 0);
  channel->write_outbound(ok("one"));
  // The application's own late answer to /2 is refused: the error was its answer.
  std::vector<Error> late;
  channel->pipeline().write(ok("two"), [&](const Error& error) { late.push_back(error); });
  channel->pipeline().flush();
  const auto outcome = test::finish_exchange(*channel);
  CHECK(without_dates(outcome.output)
            .rfind("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: <date>\r\n\r\none"
                   "HTTP/1.1 400 Bad Request\r\n",
                   0) == 0);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 2);
  REQUIRE(late.size() == 1);
  CHECK(late[0]);
  CHECK(outcome.closed);
}

TEST_CASE("a streamed response to HTTP/1.1 is chunked and keeps the connection") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
  channel->write_outbound(HttpResponse(200).streamed(), bytes("abc"), HttpEnd{});
  CHECK(
      without_dates(test::outbound_text(*channel)) ==
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  CHECK_FALSE(saw_fin(*channel));
}

TEST_CASE("a streamed response to HTTP/1.0 without a length is delimited by closing") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  channel->write_outbound(HttpResponse(200).streamed(), bytes("abc"), bytes("def"));
  CHECK_FALSE(saw_fin(*channel));  // the body is not over yet
  channel->write_outbound(HttpEnd{});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nDate: <date>\r\nConnection: close\r\n\r\nabcdef");
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

TEST_CASE("a 100 Continue before the response does not count as the response") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"
            "xHEAD /b HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/a", "/b"});
  channel->write_outbound(HttpResponse(100), ok("A"), ok("B"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nA"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n");
}

TEST_CASE("writes after the last response fail instead of going out") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(HttpLimits{}, 60s));
  });
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"));
  channel->write_outbound(ok("last"));
  test::outbound_text(*channel);
  std::vector<Error> results;
  channel->pipeline().write(ok("more"), [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  REQUIRE(results.size() == 1);
  CHECK(results[0] == ChannelErrc::output_shutdown);
  CHECK(channel->outbound_count() == 0);
  channel->finish();
}

TEST_CASE("an error is answered at once when no response is owed, and nothing after it is read") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/9.9\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
  CHECK(channel->inbound_count() == 0);  // the application never sees the bad request
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 505);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
  CHECK(outcome.closed);
}

TEST_CASE("every request split at every byte position is answered the same") {
  const std::string raw =
      "GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"
      "POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
      "GET /4 HTTP/1.1\r\nConnection: close\r\n\r\n";
  const auto serve = [&](const std::vector<std::size_t>& cuts) {
    auto channel = test::server_channel();
    test::write_in_pieces(*channel, raw, cuts);
    std::vector<std::string> seen = targets(*channel);
    for (std::size_t i = 0; i < seen.size(); ++i)
      channel->write_outbound(ok(seen[i]));
    const auto outcome = test::finish_exchange(*channel);
    return without_dates(outcome.output) + (outcome.closed ? "<closed>" : "<open>");
  };
  const std::string whole = serve({});
  CHECK(occurrences(whole, "HTTP/1.1 200 OK") == 4);
  CHECK(whole.find("<closed>") != std::string::npos);
  for (std::size_t i = 1; i < raw.size(); ++i) {
    CAPTURE(i);
    CHECK(serve({i}) == whole);
  }
}

TEST_CASE(
    "a malformed body under a response already streaming ends the connection, no error head") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/echo"});
  // The application streams its answer while the body still arrives (an echo).
  channel->write_outbound(HttpResponse(200).streamed(), bytes("hello"));
  channel->write_inbound(bytes("zz\r\n"));  // a bad chunk size
  const auto outcome = test::finish_exchange(*channel);
  // An error head in the middle of the chunked body would corrupt it: the body is cut short
  // instead (no last chunk), which tells the client the response failed.
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n5\r\nhello");
  CHECK(outcome.closed);
}
