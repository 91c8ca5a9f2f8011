#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "sluice/codec/http/http_object_aggregator.hpp"
#include "sluice/codec/http/http_response.hpp"

using namespace sluice;
using namespace sluice::http;
using sluice::test::bytes;
using sluice::test::text_of;

namespace {

Ref<EmbeddedChannel> aggregating_server(std::size_t max_content_length) {
  return EmbeddedChannel::create([=](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(),
                                                         std::chrono::milliseconds(5)));
    p.add_last("aggregator", std::make_unique<HttpObjectAggregator>(max_content_length));
  });
}

// "POST /x body='...' trailers [...]" for each FullHttpRequest; other messages by type.
std::vector<std::string> whole_requests(EmbeddedChannel& channel) {
  std::vector<std::string> found;
  for (Message m = channel.read_inbound(); m; m = channel.read_inbound()) {
    if (auto* full = m.get_if<FullHttpRequest>()) {
      found.push_back(std::string(full->head.method()) + " " + std::string(full->head.target()) +
                      " body='" + text_of(full->body) + "'" +
                      test::describe_fields(full->trailers));
    } else {
      found.push_back("other " + std::string(m.type_name()));
    }
  }
  return found;
}

const std::string kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace

TEST_CASE("a request and its body pieces become one FullHttpRequest, joined without copying") {
  auto channel = aggregating_server(1024);
  Buffer first = bytes("POST /up HTTP/1.1\r\nContent-Length: 11\r\n\r\nhel");
  Buffer second = bytes("lo wor");
  Buffer third = bytes("ld");
  const std::byte* first_body = first.readable_span().data() + first.readable_bytes() - 3;
  const std::byte* second_body = second.readable_span().data();
  const std::byte* third_body = third.readable_span().data();
  channel->write_inbound(std::move(first));
  CHECK(channel->inbound_count() == 0);  // nothing until the body is complete
  channel->write_inbound(std::move(second), std::move(third));
  Message message = channel->read_inbound();
  REQUIRE(message.is<FullHttpRequest>());
  const auto& full = message.as<FullHttpRequest>();
  CHECK(full.head.target() == "/up");
  CHECK(full.head.content_length() == 11u);
  CHECK(text_of(full.body) == "hello world");
  REQUIRE(full.body.component_count() == 3);
  CHECK(full.body.component(0).readable_span().data() == first_body);
  CHECK(full.body.component(1).readable_span().data() == second_body);
  CHECK(full.body.component(2).readable_span().data() == third_body);
  CHECK(channel->read_inbound().empty());
}

TEST_CASE("a chunked request is aggregated with its trailers") {
  auto channel = aggregating_server(1024);
  channel->write_inbound(
      bytes("POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-Sum: 5\r\n\r\n"));
  CHECK(whole_requests(*channel) == std::vector<std::string>{"POST /c body='abcde' [X-Sum: 5]"});
}

TEST_CASE("a request without a body is aggregated at once, and pipelined ones in order") {
  auto channel = aggregating_server(1024);
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi"
            "GET /3 HTTP/1.1\r\n\r\n"));
  CHECK(whole_requests(*channel) ==
        std::vector<std::string>{"GET /1 body=''", "POST /2 body='hi'", "GET /3 body=''"});
}

TEST_CASE("a body of exactly the limit is accepted") {
  auto channel = aggregating_server(5);
  channel->write_inbound(
      bytes("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
            "2\r\nhe\r\n3\r\nllo\r\n0\r\n\r\n"));
  CHECK(whole_requests(*channel) ==
        std::vector<std::string>{"POST / body='hello'", "POST / body='hello'"});
  CHECK(channel->outbound_count() == 0);
}

TEST_CASE("a Content-Length over the limit is answered 413 with close before the body is read") {
  auto channel = aggregating_server(10);
  channel->write_inbound(bytes("POST / HTTP/1.1\r\nContent-Length: 11\r\n\r\n"));
  CHECK(channel->outbound_count() != 0);  // answered without waiting for the body
  CHECK(channel->inbound_count() == 0);
  channel->write_inbound(bytes("hello world"));
  CHECK(channel->inbound_count() == 0);
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 413);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("a chunked body is answered 413 as soon as it grows past the limit") {
  auto channel = aggregating_server(10);
  channel->write_inbound(
      bytes("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n"));
  CHECK(channel->outbound_count() == 0);
  channel->write_inbound(bytes("6\r\nghijkl\r\n"));  // 12 bytes: over, before the body ends
  CHECK(channel->outbound_count() != 0);
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 413);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.closed);
  CHECK(channel->inbound_count() == 0);
}

TEST_CASE("Expect: 100-continue is answered with 100 Continue, then the request as usual") {
  auto channel = aggregating_server(1024);
  channel->write_inbound(
      bytes("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  CHECK(test::outbound_text(*channel) == kContinue);
  CHECK(channel->inbound_count() == 0);
  channel->write_inbound(bytes("data"));
  CHECK(whole_requests(*channel) == std::vector<std::string>{"PUT /f body='data'"});
  channel->write_outbound(HttpResponse(201).body(bytes("")));
  CHECK(test::first_status(test::outbound_text(*channel)) == 201);
  CHECK(channel->is_open());
}

TEST_CASE("Expect: 100-continue from an HTTP/1.0 client gets no 100") {
  auto channel = aggregating_server(1024);
  channel->write_inbound(
      bytes("PUT /f HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n"));
  CHECK(channel->outbound_count() == 0);
  channel->write_inbound(bytes("data"));
  CHECK(whole_requests(*channel) == std::vector<std::string>{"PUT /f body='data'"});
  CHECK(channel->outbound_count() == 0);
}

TEST_CASE("Expect: 100-continue with a length over the limit is refused with 413, no 100") {
  auto channel = aggregating_server(10);
  channel->write_inbound(
      bytes("PUT /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1000\r\n\r\n"));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 413);
  CHECK(outcome.output.find("100 Continue") == std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("Expect: 100-continue on a request without a body gets no 100") {
  auto channel = aggregating_server(1024);
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n"));
  CHECK(channel->outbound_count() == 0);
  CHECK(whole_requests(*channel) == std::vector<std::string>{"GET / body=''"});
}

TEST_CASE("after a 413 nothing more is aggregated") {
  auto channel = aggregating_server(4);
  channel->write_inbound(
      bytes("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
            "GET /next HTTP/1.1\r\n\r\n"));
  CHECK(channel->inbound_count() == 0);
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 413);
  CHECK(outcome.closed);
}

TEST_CASE("messages the aggregator does not know pass through it") {
  auto channel = EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<HttpRequestDecoder>());
    p.add_last("aggregator", std::make_unique<HttpObjectAggregator>(1024));
  });
  channel->write_inbound(bytes("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), std::string("other"));
  Message error = channel->read_inbound();
  REQUIRE(error.is<HttpDecodeError>());
  CHECK(error.as<HttpDecodeError>().status == 400);
  Message other = channel->read_inbound();
  CHECK(other.is<std::string>());
}

// RFC 9112 §9.3.2: responses go out in request order, refusals included.
TEST_CASE("a 413 waits behind the responses owed to earlier pipelined requests") {
  auto channel = aggregating_server(10);
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 100\r\n\r\n"));
  CHECK(whole_requests(*channel) == std::vector<std::string>{"GET /1 body=''"});
  CHECK(channel->outbound_count() == 0);  // the answer to /1 comes first
  std::vector<Error> results;
  channel->pipeline().write(HttpResponse(200).body(bytes("one")),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().flush();
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 200);
  CHECK(outcome.output.find("HTTP/1.1 413 ") != std::string::npos);
  REQUIRE(results.size() == 1);
  CHECK_FALSE(results[0]);
}

TEST_CASE("a 413 behind an earlier answer still goes out, and requests after it are not read") {
  // The refusal used to be undone as the decoder moved on to the refused body: the request
  // after it was decoded and the 413 never sent.
  auto channel = aggregating_server(10);
  channel->write_inbound(
      bytes("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"
            "GET /3 HTTP/1.1\r\n\r\n"));
  CHECK(whole_requests(*channel) == std::vector<std::string>{"GET /1 body=''"});
  channel->write_outbound(HttpResponse(200).body(bytes("one")));
  const auto outcome = test::finish_exchange(*channel);
  CHECK(test::first_status(outcome.output) == 200);
  CHECK(outcome.output.find("HTTP/1.1 413 ") != std::string::npos);
  CHECK(outcome.closed);
}

TEST_CASE("a body arriving in many tiny pieces is held in a bounded number of buffers") {
  // Each piece is a slice that keeps the read buffer it came in (64 bytes at least) and a
  // component of its own: a body trickled in one byte per read held over a hundred bytes for
  // each of its bytes (a 1 MiB limit let one connection pin over 100 MiB), and a chunked
  // body of one-byte chunks kept a component per byte.
  SUBCASE("Content-Length, one byte per read") {
    auto channel = aggregating_server(1 << 20);
    channel->write_inbound(bytes("POST /up HTTP/1.1\r\nContent-Length: 5000\r\n\r\n"));
    for (int i = 0; i < 5000; ++i)
      channel->write_inbound(bytes(std::string(1, static_cast<char>('a' + i % 26))));
    Message message = channel->read_inbound();
    REQUIRE(message.is<FullHttpRequest>());
    const auto& full = message.as<FullHttpRequest>();
    CHECK(full.body.readable_bytes() == 5000);
    CHECK(full.body.component_count() <= 1024);
    std::string expected;
    for (int i = 0; i < 5000; ++i)
      expected += static_cast<char>('a' + i % 26);
    CHECK(text_of(full.body) == expected);
  }
  SUBCASE("one-byte chunks in one read") {
    auto channel = aggregating_server(1 << 20);
    std::string raw = "POST /up HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 5000; ++i)
      raw += "1\r\nx\r\n";
    raw += "0\r\n\r\n";
    channel->write_inbound(bytes(raw));
    Message message = channel->read_inbound();
    REQUIRE(message.is<FullHttpRequest>());
    const auto& full = message.as<FullHttpRequest>();
    CHECK(text_of(full.body) == std::string(5000, 'x'));
    CHECK(full.body.component_count() <= 1024);
  }
}
