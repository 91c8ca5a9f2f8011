#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_response.hpp"

using namespace sluice;
using namespace sluice::http;
using namespace std::chrono_literals;
using sluice::test::bytes;
using sluice::test::describe_inbound;
using sluice::test::without_dates;
using Lines = std::vector<std::string>;

namespace {

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

// Stands for a transport whose socket is full because the peer reads slowly: what is written
// and flushed is held, and so is the FIN (the transport sends it after the flushed bytes),
// until release(). As in the transport, closing the channel drops what is still held.
class SlowWire final : public ChannelHandler {
 public:
  void write(HandlerContext&, Message&& message, WriteCallback&& done) override {
    held_.push_back({std::move(message), std::move(done)});
  }
  void flush(HandlerContext&) override {}
  void shutdown_output(HandlerContext&) override { shutdown_ = true; }
  void close(HandlerContext& ctx, CloseMode mode) override {
    for (auto& [message, done] : held_)
      complete_write(done, Error(ChannelErrc::closed, "closed"));
    held_.clear();
    ctx.close(mode);
  }
  std::size_t held() const noexcept { return held_.size(); }
  void release(HandlerContext& ctx) {
    for (auto& [message, done] : held_)
      ctx.write(std::move(message), std::move(done));
    held_.clear();
    ctx.flush();
    if (shutdown_) ctx.shutdown_output();
  }

 private:
  std::vector<std::pair<Message, WriteCallback>> held_;
  bool shutdown_ = false;
};

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
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 60s));
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

TEST_CASE("trailer fields go out only where the response is chunked") {
  auto chunked = test::server_channel();
  chunked->write_inbound(bytes("GET / HTTP/1.1\r\nTE: trailers\r\n\r\n"));
  chunked->write_outbound(HttpResponse(200).streamed(), bytes("abc"),
                          HttpEnd().trailer("X-Result", "0"));
  CHECK(test::outbound_text(*chunked).ends_with("3\r\nabc\r\n0\r\nX-Result: 0\r\n\r\n"));

  // A HEAD's response has no body, so no last chunk to carry them (RFC 9110 §9.3.2).
  auto head = test::server_channel();
  head->write_inbound(bytes("HEAD / HTTP/1.1\r\n\r\n"));
  head->write_outbound(HttpResponse(200).streamed(), bytes("abc"),
                       HttpEnd().trailer("X-Result", "0"));
  CHECK(without_dates(test::outbound_text(*head)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n");

  // An HTTP/1.0 body is delimited by closing: nothing can follow it.
  auto http10 = test::server_channel();
  http10->write_inbound(bytes("GET / HTTP/1.0\r\n\r\n"));
  http10->write_outbound(HttpResponse(200).streamed(), bytes("abc"),
                         HttpEnd().trailer("X-Result", "0"));
  const auto outcome = test::finish_exchange(*http10);
  CHECK(outcome.output.ends_with("\r\n\r\nabc"));
  CHECK(outcome.closed);
}

TEST_CASE("a streamed response to an HTTP/1.0 HEAD with keep-alive keeps the connection") {
  // The body a GET would get is delimited by closing; a HEAD's has no body to delimit (RFC
  // 9112 §6.3), so the connection the client asked to keep stays.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  channel->write_outbound(HttpResponse(200).streamed(), bytes("abc"), HttpEnd{});
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nDate: <date>\r\nConnection: keep-alive\r\n\r\n");
  CHECK_FALSE(saw_fin(*channel));
  CHECK(channel->is_open());
  channel->write_inbound(bytes("GET /again HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/", "/again"});
}

TEST_CASE("a 100 Continue before the response does not count as the response") {
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("POST /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n"));
  channel->write_outbound(HttpResponse(100));
  channel->write_inbound(bytes("xHEAD /b HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/a", "/b"});
  channel->write_outbound(ok("A"), ok("B"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nA"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n");
}

TEST_CASE("writes after the last response fail instead of going out") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 60s));
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

namespace {

// Answers each request with its target as the body, written but not flushed: the test decides
// when the answers drain.
class AnswerWithTarget final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (const auto* request = message.get_if<HttpRequest>()) {
      ctx.write(HttpResponse(200).body(bytes(request->target())));
      ++answered;
    }
  }
  int answered = 0;
};

struct BackpressuredServer {
  Ref<EmbeddedChannel> channel;
  AnswerWithTarget* app = nullptr;
};

// One answer (about 80 bytes) crosses the high water mark.
BackpressuredServer backpressured_server() {
  BackpressuredServer server;
  ChannelOptions options;
  options.write_high_water_mark = 40;
  options.write_low_water_mark = 20;
  server.channel = EmbeddedChannel::create(
      [&server](Pipeline& p) {
        p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
        auto app = std::make_unique<AnswerWithTarget>();
        server.app = app.get();
        p.add_last("app", std::move(app));
      },
      options);
  return server;
}

// Refuses POST requests as their heads arrive, as an authorisation check would.
class RefusePosts final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    const auto* request = message.get_if<HttpRequest>();
    if (request != nullptr && request->method() == "POST") {
      ctx.write(HttpReject{403, "no posting"});
      return;
    }
    ctx.fire_read(std::move(message));
  }
};

// Refuses a POST once its whole body has arrived, as a check of the body would.
class RefusePostBodies final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (const auto* request = message.get_if<HttpRequest>()) post_ = request->method() == "POST";
    if (const auto* content = message.get_if<HttpContent>(); content && content->last && post_) {
      ctx.write(HttpReject{422, "bad body"});
      return;
    }
    ctx.fire_read(std::move(message));
  }

 private:
  bool post_ = false;
};

const std::string kFivePipelined =
    "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\nGET /3 HTTP/1.1\r\n\r\n"
    "GET /4 HTTP/1.1\r\n\r\nGET /5 HTTP/1.1\r\n\r\n";

}  // namespace

TEST_CASE("pipelined requests wait while their answers are not drained, and reading pauses") {
  // A client that pipelines without reading the answers would otherwise make them pile up in
  // this process without bound (measured: 159 MB of requests held 2.8 GB of answers).
  auto server = backpressured_server();
  EmbeddedChannel& channel = *server.channel;
  channel.write_inbound(bytes(kFivePipelined));
  CHECK(server.app->answered == 1);
  CHECK_FALSE(channel.is_writable());
  CHECK_FALSE(channel.auto_read());
  for (int drained = 1; drained < 5; ++drained) {
    channel.flush();  // the peer reads one answer: the next request is decoded
    CHECK(server.app->answered == drained + 1);
  }
  channel.flush();
  CHECK(channel.is_writable());
  CHECK(channel.auto_read());  // restored: the pause was the codec's
  CHECK(occurrences(test::outbound_text(channel), "HTTP/1.1 200 OK") == 5);
}

TEST_CASE("requests held back when the peer half-closes are still answered") {
  auto server = backpressured_server();
  EmbeddedChannel& channel = *server.channel;
  channel.write_inbound(bytes(kFivePipelined));
  channel.pipeline().fire_user_event(ChannelInputShutdown{});
  channel.run_pending();
  CHECK(server.app->answered == 1);
  for (int i = 0; i < 5; ++i)
    channel.flush();
  CHECK(server.app->answered == 5);
  // All answered and the peer done: the connection ends.
  const auto outcome = test::finish_exchange(channel);
  CHECK(occurrences(outcome.output, "HTTP/1.1 200 OK") == 5);
  CHECK(outcome.closed);
}

TEST_CASE("a request refused while it is handled stops decoding: nothing after it is handled") {
  // RFC 9112 §9.6. The refusal used to be undone as the decoder moved on to the body: the
  // refused body and the requests after it reached the application.
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
    p.add_last("guard", std::make_unique<RefusePosts>());
  });
  channel->write_inbound(bytes(
      "POST /2 HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloDELETE /everything HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel).empty());
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 403);
  CHECK(outcome.closed);
}

TEST_CASE("a refusal after whole requests arrived answers the oldest one still owed an answer") {
  // It used to answer the newest, leaving the oldest owed an answer that never came: nothing
  // went out and the connection hung.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  channel->write_outbound(HttpReject{403, "not you"});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 403);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
  CHECK(outcome.closed);
}

TEST_CASE("a refusal while a response streams goes out after it; later requests go unanswered") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
  channel->write_outbound(HttpResponse(200).streamed(), bytes("one"));
  channel->write_outbound(HttpReject{403, "not you"});
  bool shut = false;
  CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
  channel->write_outbound(HttpEnd{});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 200);
  CHECK(occurrences(outcome.output, "HTTP/1.1 403 ") == 1);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 2);
  CHECK(outcome.closed);
}

TEST_CASE("a peer that half-closes inside a request gets 400, after what it is owed") {
  SUBCASE("inside a body") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhel"));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(test::first_status(outcome.output) == 400);
    CHECK(outcome.closed);
  }
  SUBCASE("inside a head, behind an earlier request") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\nHost"));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    CHECK(targets(*channel) == std::vector<std::string>{"/1"});
    channel->write_outbound(ok("1"));
    const auto outcome = test::finish_exchange(*channel);
    CHECK(test::first_status(outcome.output) == 200);
    CHECK(occurrences(outcome.output, "HTTP/1.1 400 ") == 1);
    CHECK(outcome.closed);
  }
  SUBCASE("a reset inside a request writes nothing") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nhel"));
    channel->finish();
    CHECK(test::outbound_text(*channel).empty());
  }
}

TEST_CASE("after a response that closes the connection no later request is handled") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /close HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/close"});
  channel->write_outbound(ok("bye").close_connection());
  channel->write_inbound(bytes("POST /transfer HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
  CHECK(targets(*channel).empty());
  CHECK(test::finish_exchange(*channel).closed);
}

TEST_CASE(
    "while a streamed response that closes the connection goes out no later request is "
    "handled") {
  // RFC 9112 §9.6: after sending close the server MUST NOT process further requests; the
  // client, never answered, sends them again on another connection.
  struct Case {
    const char* request;
    HttpResponse (*response)();
    const char* end;  // how the body ends on the wire
  };
  const Case cases[] = {
      {"GET /stream HTTP/1.1\r\n\r\n",
       [] { return HttpResponse(200).streamed().close_connection(); }, "3\r\nabc\r\n0\r\n\r\n"},
      {"GET /stream HTTP/1.1\r\n\r\n",
       [] { return HttpResponse(200).content_length(3).close_connection(); }, "abc"},
      // No length for HTTP/1.0: the close delimits the body.
      {"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
       [] { return HttpResponse(200).streamed(); }, "abc"},
  };
  for (const Case& c : cases) {
    for (const bool half_close : {false, true}) {
      const std::string request = c.request;
      CAPTURE(request);
      CAPTURE(half_close);
      auto channel = test::server_channel();
      channel->write_inbound(bytes(request));
      CHECK(targets(*channel) == std::vector<std::string>{"/stream"});
      channel->write_outbound(c.response(), bytes("abc"));
      channel->write_inbound(bytes("POST /transfer HTTP/1.1\r\nContent-Length: 0\r\n\r\n"));
      // The peer that half-closes after it is no different: the request held is not a request
      // cut short.
      if (half_close) channel->pipeline().fire_user_event(ChannelInputShutdown{});
      CHECK(targets(*channel).empty());
      channel->write_outbound(HttpEnd{});
      const auto outcome = test::finish_exchange(*channel);
      CHECK(targets(*channel).empty());
      CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
      CHECK(outcome.output.find("Connection: close\r\n") != std::string::npos);
      CHECK(outcome.output.ends_with(c.end));
      CHECK(outcome.closed);
    }
  }
}

TEST_CASE("a 1xx never overtakes a response owed to an earlier request, nor goes to HTTP/1.0") {
  SUBCASE("behind an earlier request") {
    auto channel = test::server_channel();
    channel->write_inbound(
        bytes("GET /1 HTTP/1.1\r\n\r\n"
              "PUT /2 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
    channel->write_outbound(HttpResponse(100));
    channel->write_outbound(ok("1"));
    CHECK(test::first_status(test::outbound_text(*channel)) == 200);
  }
  SUBCASE("inside a streamed body") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(HttpResponse(200).streamed(), bytes("part1"));
    channel->write_inbound(
        bytes("PUT /2 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
    channel->write_outbound(HttpResponse(100), bytes("part2"), HttpEnd{});
    // Held until the streamed response has ended; /2's body is still awaited.
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
          "5\r\npart1\r\n5\r\npart2\r\n0\r\n\r\n"
          "HTTP/1.1 100 Continue\r\n\r\n");
  }
  SUBCASE("to an HTTP/1.0 client") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /a HTTP/1.0\r\n\r\n"));
    channel->write_outbound(HttpResponse(100), ok("a"));
    CHECK(test::first_status(test::finish_exchange(*channel).output) == 200);
  }
}

TEST_CASE("a body that goes past its Content-Length fails and the connection closes") {
  // Bytes past the length would be read as the next response: one response forging another.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
  std::vector<Error> results;
  channel->pipeline().write(HttpResponse(200).content_length(2));
  channel->pipeline().write(bytes("okHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"),
                            [&](const Error& error) { results.push_back(error); });
  const auto outcome = test::finish_exchange(*channel);
  REQUIRE(results.size() == 1);
  CHECK(results[0].code() == CodecErrc::body_length_mismatch);
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: <date>\r\n\r\n");
  CHECK(outcome.closed);
}

TEST_CASE("a body that ends short of its Content-Length fails and the connection closes") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
  std::vector<Error> results;
  channel->pipeline().write(HttpResponse(200).content_length(10));
  channel->pipeline().write(bytes("abc"));
  channel->pipeline().write(HttpEnd{}, [&](const Error& error) { results.push_back(error); });
  const auto outcome = test::finish_exchange(*channel);
  REQUIRE(results.size() == 1);
  CHECK(results[0].code() == CodecErrc::body_length_mismatch);
  CHECK(outcome.output_shutdown);  // the client sees 3 of 10 bytes, then the end
  CHECK(outcome.closed);
  CHECK_THROWS_AS(HttpResponse(200).body(bytes("abc")).content_length(10), std::invalid_argument);
}

TEST_CASE("body parts announced for a 204 or 304 are dropped; the next response follows") {
  for (const std::uint16_t status : {204, 304}) {
    CAPTURE(status);
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(HttpResponse(status).content_length(5), bytes("hello"), HttpEnd{},
                            ok("2"));
    const std::string output = without_dates(test::outbound_text(*channel));
    CHECK(output.find("hello") == std::string::npos);
    CHECK(occurrences(output, "HTTP/1.1 ") == 2);
    CHECK(output.substr(output.size() - 1) == "2");
    CHECK(channel->is_open());
  }
}

TEST_CASE("no more than max_pipelined requests await their answers; each answer lets one in") {
  HttpLimits limits = test::test_limits();
  limits.max_pipelined = 2;
  auto channel = test::server_channel(limits);
  channel->write_inbound(bytes(kFivePipelined));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  CHECK_FALSE(channel->auto_read());
  // Answered from outside on_read here; the next request comes from the loop, not from inside
  // the write that completed the answer.
  channel->write_outbound(ok("1"));
  CHECK(targets(*channel) == std::vector<std::string>{"/3"});
  channel->write_outbound(ok("2"), ok("3"));
  CHECK(targets(*channel) == std::vector<std::string>{"/4", "/5"});
  channel->write_outbound(ok("4"), ok("5"));
  CHECK(channel->auto_read());
  CHECK(occurrences(test::outbound_text(*channel), "HTTP/1.1 200 OK") == 5);
}

TEST_CASE("a peer that half-closes after its requests gets every answer, then the close") {
  // Without it, an HTTP server on a half-closing client cut the answers short (a 200 MiB body
  // stopped after 4 MB).
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  bool shut = false;
  channel->write_outbound(HttpResponse(200).streamed(), bytes("one"));
  CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
  channel->write_outbound(HttpEnd{}, ok("2"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(occurrences(outcome.output, "HTTP/1.1 200 OK") == 2);
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

TEST_CASE("a peer that half-closes with nothing owed is closed at once") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
  channel->write_outbound(ok("1"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK(test::finish_exchange(*channel).closed);
}

TEST_CASE("a codec removed while it holds requests back gives reading back and passes them on") {
  auto server = backpressured_server();
  EmbeddedChannel& channel = *server.channel;
  channel.write_inbound(bytes(kFivePipelined));
  REQUIRE_FALSE(channel.auto_read());
  channel.pipeline().remove("http");
  CHECK(channel.auto_read());
  CHECK(server.app->answered == 1);  // the rest went on as bytes, not requests
}

TEST_CASE("an empty line after a request, then a half-close, is not answered 400") {
  // RFC 9112 §2.2: a server SHOULD ignore at least one CRLF before a request-line (some
  // clients send one after a POST body). The parser skips it when a request follows; when
  // the client half-closes after it, decode_last calls it an incomplete request head and the
  // client receives an unsolicited 400 after its answer.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/"});
  channel->write_outbound(ok("x"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
  CHECK(outcome.output.find("400 Bad Request") == std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("a refusal that answers a HEAD request carries no content") {
  // RFC 9110 §9.3.2 / RFC 9112 §6.3: a response to HEAD never has content. An HttpReject
  // written after the whole HEAD request arrived answers that request "like a response", but
  // answer_error encodes it as if for a GET: its text body goes out.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEAD /h HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/h"});
  channel->write_outbound(HttpReject{403, "not you"});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 403);
  REQUIRE(outcome.output.size() >= 4);
  CHECK(outcome.output.substr(outcome.output.size() - 4) == "\r\n\r\n");
  CHECK(outcome.output.find("not you") == std::string::npos);
}

TEST_CASE("a HEAD request whose body is cut short gets a 400 without content") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEAD /h HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 400);
  REQUIRE(outcome.output.size() >= 4);
  CHECK(outcome.output.substr(outcome.output.size() - 4) == "\r\n\r\n");
}

TEST_CASE("a HEAD request's head cut short by the end of input gets a 400 without content") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("\r\nHEA"));
  channel->write_inbound(bytes("D / HTTP/1.1\r\nHost: a"));
  channel->pipeline().fire_user_event(ChannelInputShutdown{});
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 400);
  CHECK(outcome.output.ends_with("\r\n\r\n"));
  // A GET cut short the same way gets its text.
  auto get = test::server_channel();
  get->write_inbound(bytes("GET / HTTP/1.1\r\nHost: a"));
  get->pipeline().fire_user_event(ChannelInputShutdown{});
  CHECK_FALSE(test::finish_exchange(*get).output.ends_with("\r\n\r\n"));
}

TEST_CASE("a HEAD request refused for a head that came in several reads carries no content") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("HEA"));
  channel->write_inbound(bytes("D / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 400);
  CHECK(outcome.output.ends_with("\r\n\r\n"));
}

TEST_CASE("an error answer to a HEAD request refused for its head carries no content") {
  // RFC 9110 §9.3.2: the client reads no content after a response to HEAD, whatever its status.
  HttpLimits limits = test::test_limits();
  limits.require_host = true;
  const std::pair<std::string, int> refused[] = {
      {"HEAD / HTTP/1.1\r\n\r\n", 400},                                   // no Host
      {"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n", 400},  // framing
      {"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"\r\nHEAD / HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", 400},  // a field line
      {"HEAD / HTTP/2.0\r\nHost: x\r\n\r\n", 505},
      {"HEAD /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", 414},
  };
  for (const auto& [raw, status] : refused) {
    CAPTURE(raw.substr(0, 80));
    auto channel = test::server_channel(limits);
    channel->write_inbound(bytes(raw));
    const auto outcome = test::finish_exchange(*channel);
    CHECK(test::first_status(outcome.output) == status);
    CHECK(outcome.output.find("\r\nContent-Length: ") != std::string::npos);
    CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(outcome.output.ends_with("\r\n\r\n"));
    CHECK(outcome.closed);
  }
  // The same refusals of a GET carry their text.
  auto channel = test::server_channel(limits);
  channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
  CHECK_FALSE(test::finish_exchange(*channel).output.ends_with("\r\n\r\n"));
}

TEST_CASE("the linger does not cut off a final response the peer is still reading") {
  // close_gracefully() starts the linger timer when it asks for the FIN, not when the FIN
  // goes out: a response that ends the connection ("Connection: close", HTTP/1.0) and takes
  // the peer longer than the linger (2 s by default) to read is cut off by close(), which
  // drops the bytes still queued. For HTTP/1.0 without a length, the client cannot even tell.
  SlowWire* wire = nullptr;
  auto channel = EmbeddedChannel::create([&wire](Pipeline& p) {
    auto slow = std::make_unique<SlowWire>();
    wire = slow.get();
    p.add_last("wire", std::move(slow));
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
  });
  channel->write_inbound(bytes("GET /big HTTP/1.1\r\nConnection: close\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/big"});
  channel->write_outbound(ok("the whole file"));
  REQUIRE(wire->held() > 0);  // the response waits for the slow peer
  // Well past the linger, the peer still reading.
  test::poll_until(
      *channel, [] { return false; }, 50ms);
  CHECK(channel->is_open());
  REQUIRE(channel->is_open());
  wire->release(*channel->pipeline().context("wire"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(outcome.output.find("the whole file") != std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("a refusal written while a request's last body piece is handled answers that request") {
  // It answered the oldest request still owed an answer, an earlier GET, instead.
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
    p.add_last("guard", std::make_unique<RefusePostBodies>());
  });
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc"));
  CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
  channel->write_outbound(ok("1"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 200);
  CHECK(occurrences(outcome.output, "HTTP/1.1 422 ") == 1);
  CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 2);
  CHECK(outcome.closed);
}

TEST_CASE("a request answered before its body arrived gets no second answer if the body fails") {
  // The answer is out, complete: a 400 after it would answer no request, and a client that
  // pipelined would take it for the answer to its next one.
  SUBCASE("a malformed chunk") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("POST /a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"));
    channel->write_outbound(ok("early"));
    channel->write_inbound(bytes("zz\r\n"));
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
    CHECK(test::first_status(outcome.output) == 200);
    CHECK(outcome.closed);
  }
  SUBCASE("a body cut short by a half-close") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("POST /a HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"));
    channel->write_outbound(ok("early"));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
    CHECK(test::first_status(outcome.output) == 200);
    CHECK(outcome.closed);
  }
}

TEST_CASE("a 1xx written after every request has its final answer is dropped") {
  // It would go out ahead of the next response, to a request it was never meant for, and to
  // an HTTP/1.0 client too if the next request is one (RFC 9110 §15.2). The request has no
  // Expect: answered this early, one that expects 100-continue would end the connection.
  auto channel = test::server_channel();
  channel->write_inbound(bytes("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\n"));
  channel->write_outbound(ok("no"));
  channel->write_outbound(HttpResponse(100));
  channel->write_inbound(bytes("abcdGET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  channel->write_outbound(ok("b"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nDate: <date>\r\n\r\nno"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\nConnection: keep-alive\r\n\r\nb");
}

TEST_CASE("a 1xx held behind an earlier answer goes out in its turn while the body is awaited") {
  // RFC 9110 §10.1.1: a server MUST answer an expectation of 100-continue with a final status
  // or with 100 Continue. Dropped because an earlier answer was still owed, it never came, and
  // a client waiting for it (and not on a timer) waited with the server for ever.
  const std::string head_2 = "PUT /2 HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  SUBCASE("behind a whole response") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n" + head_2));
    channel->write_outbound(HttpResponse(100));
    CHECK(test::outbound_text(*channel).empty());
    channel->write_outbound(ok("1"));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n1"
          "HTTP/1.1 100 Continue\r\n\r\n");
    channel->write_inbound(bytes("body"));
    CHECK(targets(*channel) == std::vector<std::string>{"/1", "/2"});
    channel->write_outbound(ok("2"));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n2");
  }
  SUBCASE("not once the body has arrived") {
    // RFC 9110 §10.1.1: it may be omitted once the content is in.
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n" + head_2));
    channel->write_outbound(HttpResponse(100));
    channel->write_inbound(bytes("body"));
    channel->write_outbound(ok("1"));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n1");
  }
  SUBCASE("nor when the earlier answer closes the connection") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n" + head_2));
    channel->write_outbound(HttpResponse(100));
    channel->write_outbound(HttpResponse(200).body(bytes("1")).close_connection());
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
  }
}

TEST_CASE("a final answer given before 100 Continue and before the body closes the connection") {
  // RFC 9110 §10.1.1: a client that expects 100-continue and gets a final status instead may
  // never send its body; the decoder would wait for it until an idle timeout. Or the client
  // sends it anyway. Unable to tell which, the server answers "close" and ends the connection.
  const std::string head = "PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 10\r\n\r\n";
  SUBCASE("a whole response") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head));
    channel->write_outbound(HttpResponse(417));
    const auto outcome = test::finish_exchange(*channel);
    CHECK(without_dates(outcome.output) ==
          "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nDate: <date>\r\n"
          "Connection: close\r\n\r\n");
    CHECK(outcome.output_shutdown);
    CHECK(outcome.closed);
  }
  SUBCASE("a streamed response, ended while the body has not come") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head));
    channel->write_outbound(HttpResponse(401).streamed(), bytes("no"));
    CHECK(test::outbound_text(*channel).find("\r\nConnection: close\r\n") != std::string::npos);
    channel->write_outbound(HttpEnd{});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(outcome.output == "\r\n0\r\n\r\n");
    CHECK(outcome.output_shutdown);
    CHECK(outcome.closed);
  }
  SUBCASE("a chunked body") {
    auto channel = test::server_channel();
    channel->write_inbound(
        bytes("PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n"));
    channel->write_outbound(HttpResponse(413));
    const auto outcome = test::finish_exchange(*channel);
    CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(outcome.closed);
  }
  SUBCASE("the body sent anyway is read and dropped, and no request after it is handled") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head));
    CHECK(targets(*channel) == std::vector<std::string>{"/a"});
    channel->write_outbound(HttpResponse(417));
    channel->write_inbound(bytes("0123456789GET /b HTTP/1.1\r\n\r\n"));
    CHECK(targets(*channel).empty());
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
    CHECK(outcome.closed);
  }
}

TEST_CASE("a final answer after 100 Continue or after the body began keeps the connection") {
  // The client sends the body (told to, or already has): the next bytes are the next request.
  const std::string head = "PUT /a HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n";
  const auto keeps_serving = [](EmbeddedChannel& channel) {
    channel.write_inbound(bytes("GET /b HTTP/1.1\r\n\r\n"));
    CHECK(targets(channel) == std::vector<std::string>{"/b"});
    channel.write_outbound(ok("b"));
    CHECK(without_dates(test::outbound_text(channel)) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nb");
    CHECK_FALSE(saw_fin(channel));
    CHECK(channel.is_open());
  };
  SUBCASE("100 Continue went out first") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head));
    channel->write_outbound(HttpResponse(100), HttpResponse(417));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
    channel->write_inbound(bytes("body"));
    CHECK(describe_inbound(*channel) ==
          Lines{"PUT /a HTTP/1.1 keep-alive length=4 expects-continue [Expect: 100-continue] "
                "[Content-Length: 4]",
                "body 'body'"});
    keeps_serving(*channel);
  }
  SUBCASE("100 Continue held behind an earlier answer went out in its turn") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n" + head));
    channel->write_outbound(HttpResponse(100), ok("1"), HttpResponse(417));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\n1"
          "HTTP/1.1 100 Continue\r\n\r\n"
          "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
    channel->write_inbound(bytes("body"));
    CHECK(targets(*channel) == std::vector<std::string>{"/1", "/a"});
    keeps_serving(*channel);
  }
  SUBCASE("part of the body arrived first: the client has chosen to send it all") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head + "bo"));
    channel->write_outbound(HttpResponse(417));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
    channel->write_inbound(bytes("dy"));
    CHECK(targets(*channel) == std::vector<std::string>{"/a"});
    keeps_serving(*channel);
  }
  SUBCASE("the whole body arrived first") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(head + "body"));
    channel->write_outbound(HttpResponse(417));
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
    CHECK(targets(*channel) == std::vector<std::string>{"/a"});
    keeps_serving(*channel);
  }
}

TEST_CASE("a refusal when every request has its answer ends the connection with no response") {
  // There is no request left for it to answer: sent, it answered none, and a client that
  // pipelined would take it for the answer to its next request.
  SUBCASE("every answer complete") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(ok("1"));
    channel->write_outbound(HttpReject{403, "late"});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
    CHECK(test::first_status(outcome.output) == 200);
    CHECK(outcome.closed);
  }
  SUBCASE("the last answer streaming: it ends, then the connection") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(HttpResponse(200).streamed(), bytes("one"));
    channel->write_outbound(HttpReject{403, "late"});
    bool shut = false;
    CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
    channel->write_outbound(bytes("two"), HttpEnd{});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(without_dates(outcome.output) ==
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
          "3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n");
    CHECK(outcome.closed);
  }
}

TEST_CASE(
    "a refusal with a status that is no final status is answered 500, and the connection ends") {
  // HttpResponse refuses such a status by throwing: the refusal used to leave the connection
  // open, its requests unanswered and no longer read.
  for (const std::uint16_t status : {0, 42, 101, 1000}) {
    INFO("status ", status);
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(HttpReject{status, "odd"});
    const auto outcome = test::finish_exchange(*channel);
    CHECK(test::first_status(outcome.output) == 500);
    CHECK(outcome.closed);
  }
}

TEST_CASE("bytes written after a complete response fail and the connection closes") {
  // A response without body(), content_length() or streamed() announces Content-Length: 0:
  // bytes written after it would be read by the client as the next response.
  SUBCASE("after a response without content") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"));
    std::vector<Error> results;
    channel->pipeline().write(HttpResponse(200));
    channel->pipeline().write(bytes("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"),
                              [&](const Error& error) { results.push_back(error); });
    const auto outcome = test::finish_exchange(*channel);
    REQUIRE(results.size() == 1);
    CHECK(results[0].code() == CodecErrc::body_length_mismatch);
    CHECK(without_dates(outcome.output) ==
          "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
    CHECK(outcome.closed);
  }
  SUBCASE("after a whole body") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET / HTTP/1.1\r\n\r\n"));
    channel->write_outbound(ok("body"));
    std::vector<Error> results;
    channel->pipeline().write(bytes("more"), [&](const Error& error) { results.push_back(error); });
    const auto outcome = test::finish_exchange(*channel);
    REQUIRE(results.size() == 1);
    CHECK(results[0].code() == CodecErrc::body_length_mismatch);
    CHECK(occurrences(outcome.output, "more") == 0);
    CHECK(outcome.closed);
  }
  SUBCASE("but after 101 Switching Protocols they are the new protocol's, and pass") {
    auto channel = test::server_channel();
    channel->write_inbound(
        bytes("GET / HTTP/1.1\r\nUpgrade: example\r\nConnection: upgrade\r\n\r\n"));
    channel->write_outbound(HttpResponse(101).header("Upgrade", "example"), bytes("raw"));
    CHECK(test::outbound_text(*channel) ==
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: example\r\nConnection: upgrade\r\n\r\n"
          "raw");
    CHECK(channel->is_open());
  }
}

TEST_CASE("a final response when no request awaits an answer fails, and nothing of it goes out") {
  // It answers no request: a client that pipelined would take it for the answer to its next
  // request, and every answer after it would be off by one.
  const auto refused = [](EmbeddedChannel& channel) {
    std::vector<Error> results;
    channel.pipeline().write(ok("stray"), [&](const Error& error) { results.push_back(error); });
    // What the application writes next for it fails too: the connection is ending.
    channel.pipeline().write(HttpEnd{}, [&](const Error& error) { results.push_back(error); });
    channel.pipeline().flush();
    REQUIRE(results.size() == 2);
    CHECK(results[0].code() == CodecErrc::unsolicited_response);
    CHECK(results[1] == ChannelErrc::output_shutdown);
  };
  SUBCASE("every request already answered") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\n"));
    channel->write_outbound(ok("1"));
    refused(*channel);
    const auto outcome = test::finish_exchange(*channel);
    CHECK(occurrences(outcome.output, "HTTP/1.1 ") == 1);
    CHECK(occurrences(outcome.output, "stray") == 0);
    CHECK(outcome.output_shutdown);
    CHECK(outcome.closed);
  }
  SUBCASE("no request received yet") {
    auto channel = test::server_channel();
    refused(*channel);
    const auto outcome = test::finish_exchange(*channel);
    CHECK(outcome.output.empty());
    CHECK(outcome.closed);
  }
  SUBCASE("only part of a request head received") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /1 HTTP/1.1\r\nHo"));
    refused(*channel);
    // The rest of that request is read and dropped, never handled.
    channel->write_inbound(bytes("st: x\r\n\r\n"));
    CHECK(channel->inbound_count() == 0);
    const auto outcome = test::finish_exchange(*channel);
    CHECK(outcome.output.empty());
    CHECK(outcome.closed);
  }
}

TEST_CASE("a response to a request whose body is still arriving is an answer, not refused") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes("POST /a HTTP/1.1\r\nContent-Length: 4\r\n\r\nab"));
  channel->write_outbound(ok("a"));
  channel->write_inbound(bytes("cdGET /b HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/a", "/b"});
  channel->write_outbound(ok("b"));
  CHECK(without_dates(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\na"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nb");
  CHECK(channel->is_open());
}

TEST_CASE("a response written before the one before it ended fails and the connection closes") {
  // Without HttpEnd the first body has not ended: the second head would go out inside it, and
  // it would be encoded for the first request (here a GET's body sent to a HEAD request).
  auto channel = test::server_channel();
  channel->write_inbound(bytes("GET /1 HTTP/1.1\r\n\r\nHEAD /2 HTTP/1.1\r\n\r\n"));
  std::vector<Error> results;
  channel->pipeline().write(HttpResponse(200).streamed());
  channel->pipeline().write(bytes("abc"));
  channel->pipeline().write(ok("second"), [&](const Error& error) { results.push_back(error); });
  const auto outcome = test::finish_exchange(*channel);
  REQUIRE(results.size() == 1);
  CHECK(results[0].code() == CodecErrc::body_length_mismatch);
  CHECK(without_dates(outcome.output) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n3\r\nabc");
  CHECK(outcome.closed);
}

namespace {

HttpLimits limits_with_head_timeout(std::chrono::milliseconds timeout) {
  HttpLimits limits = test::test_limits();
  limits.head_timeout = timeout;
  return limits;
}

}  // namespace

// Each byte well inside any idle timeout, a head trickled in kept its connection for as long
// as the client liked ("slowloris"): only the time to the head's end bounds it.
TEST_CASE("a request head trickled in a byte at a time is answered 408 and the connection closes") {
  auto channel = test::server_channel(limits_with_head_timeout(30ms));
  const std::string head = "GET / HTTP/1.1\r\nX-Slow: " + std::string(4000, 'a');
  std::size_t sent = 0;
  const bool answered = test::poll_until(*channel, [&] {
    if (!channel->is_open() || channel->outbound_count() > 0) return true;
    if (sent < head.size()) channel->write_inbound(bytes(head.substr(sent++, 1)));
    return false;
  });
  REQUIRE(answered);
  CHECK(sent < head.size());  // cut off before the head could end
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 408);
  CHECK(outcome.output.find("Connection: close\r\n") != std::string::npos);
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

TEST_CASE("the request decoder alone hands a head cut off by its deadline on as a 408 error") {
  auto channel = test::request_decoder(limits_with_head_timeout(10ms));
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nHost: a"));
  std::vector<std::string> decoded;
  REQUIRE(test::poll_until(*channel, [&] {
    decoded = describe_inbound(*channel);
    return !decoded.empty();
  }));
  REQUIRE(decoded.size() == 1);
  CHECK(decoded[0].rfind("error 408", 0) == 0);
  // The connection is done: what follows is not decoded.
  channel->write_inbound(bytes("\r\n\r\nGET /after HTTP/1.1\r\n\r\n"));
  CHECK(describe_inbound(*channel).empty());
}

TEST_CASE("a HEAD request's head cut off by its deadline gets a 408 without content") {
  // RFC 9110 §9.3.2: the client reads no content after a response to HEAD; text after the
  // 408's head would be read as the start of a next response.
  auto channel = test::server_channel(limits_with_head_timeout(10ms));
  channel->write_inbound(bytes("HE"));
  channel->write_inbound(bytes("AD / HTTP/1.1\r\nHost: a"));
  REQUIRE(test::poll_until(*channel, [&] { return channel->outbound_count() > 0; }));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 408);
  CHECK(outcome.output.ends_with("\r\n\r\n"));
  CHECK(outcome.closed);
}

TEST_CASE("a head that ends in time is answered, and no 408 follows it") {
  constexpr auto timeout = 200ms;
  auto channel = test::server_channel(limits_with_head_timeout(timeout));
  const auto start = std::chrono::steady_clock::now();
  channel->write_inbound(bytes("GET /a HTTP/1.1\r\n"));
  channel->write_inbound(bytes("\r\n"));
  const auto gap = std::chrono::steady_clock::now() - start;
  CHECK(targets(*channel) == std::vector<std::string>{"/a"});
  channel->write_outbound(ok("a"));
  // Empty lines after the answer (as some clients send after a body) begin no head either.
  channel->write_inbound(bytes("\r\n"));
  test::poll_until(
      *channel, [] { return false; }, 3 * timeout);
  const std::string output = test::outbound_text(*channel);
  CHECK(test::first_status(output) == 200);
  // Checked only if the machine let the head's two reads come well inside the deadline.
  if (gap < timeout / 2) {
    CHECK(output.find(" 408 ") == std::string::npos);
    CHECK(channel->is_open());
  }
}
