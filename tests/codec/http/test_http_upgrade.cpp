// Switching protocols through HttpServerCodec (RFC 9110 §7.8, §15.2.2): what follows a request
// that asks to upgrade waits for its answer; after a 101 it is another protocol's bytes.

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "protocol_switch_support.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_object_aggregator.hpp"
#include "sluice/codec/http/http_response.hpp"

using namespace sluice;
using namespace sluice::http;
using namespace std::chrono_literals;
using namespace std::string_literals;
using sluice::test::bytes;
using sluice::test::collect;
using sluice::test::Inbound;
using sluice::test::text_of;
using sluice::test::without_dates;
using sluice::test::write_result;
using Lines = std::vector<std::string>;

namespace {

const std::string kUpgradeGet =
    "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: example/1, other\r\n"
    "Connection: keep-alive, Upgrade\r\n\r\n";
const std::string kUpgradePost =
    "POST /up HTTP/1.1\r\nUpgrade: example/1\r\nContent-Length: 5\r\nConnection: upgrade\r\n"
    "\r\nhello";
// Another protocol's bytes: binary, and text that an HTTP parser would take for requests (or
// refuse).
const std::string kRaw =
    "\x00\x01\xff\x7f GET /not-http HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: 9\r\n"
    "\r\n\r\n\n\r bare LF\n and \x00\x00 HTTP/9.9\r\n"s;
const std::string kSwitchHead =
    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: example/1\r\nConnection: upgrade\r\n\r\n";

HttpResponse switching() {
  return HttpResponse(101).header("Upgrade", "example/1");
}

HttpResponse ok(std::string_view body) {
  return HttpResponse(200).body(bytes(body));
}

// Answers each request from on_read, as an application does: 101 to an upgrade request (before
// its body arrives), 200 to any other.
class Answerer final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (const auto* request = message.get_if<HttpRequest>()) {
      if (request->upgrade()) {
        ctx.write_and_flush(switching());
      } else {
        ctx.write_and_flush(ok(request->target()));
      }
    } else if (message.is<FullHttpRequest>()) {
      ctx.write_and_flush(switching());  // every aggregated request here asks to upgrade
    }
    ctx.fire_read(std::move(message));
  }
};

// The requests whose heads reached the application.
std::vector<std::string> targets(EmbeddedChannel& channel) {
  std::vector<std::string> found;
  for (Message m = channel.read_inbound(); m; m = channel.read_inbound()) {
    if (const auto* request = m.get_if<HttpRequest>()) found.emplace_back(request->target());
  }
  return found;
}

}  // namespace

TEST_CASE("after a 101 the bytes that follow the upgrade request reach the application as sent") {
  const std::vector<test::SwitchExchange> exchanges = {
      {"bodiless", kUpgradeGet, {"GET /chat upgrade", "body ''"}, kSwitchHead},
      {"with a body, which is still HTTP",
       kUpgradePost,
       {"POST /up upgrade", "body 'hello'"},
       kSwitchHead},
      {"behind a pipelined request",
       "GET /first HTTP/1.1\r\n\r\n" + kUpgradeGet,
       {"GET /first", "body ''", "GET /chat upgrade", "body ''"},
       "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nDate: <date>\r\n\r\n/first" + kSwitchHead},
  };
  for (const test::SwitchExchange& exchange : exchanges) {
    test::check_switch_answered_on_read<Answerer>(exchange, kRaw);
    // The 101 written by the test once the upgrade request has been seen.
    test::check_switch_answered_later(exchange, kRaw, [&](EmbeddedChannel& channel, std::size_t) {
      for (std::size_t i = 0; i + 2 < exchange.http.size(); i += 2) {
        channel.write_outbound(ok("/first"));
      }
      channel.write_outbound(switching());
    });
  }
}

TEST_CASE("nothing after an upgrade request is decoded until it is answered") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes(kUpgradeGet + "GET /next HTTP/1.1\r\n\r\n"));
  CHECK(targets(*channel) == std::vector<std::string>{"/chat"});
  CHECK(channel->inbound_count() == 0);
  CHECK_FALSE(channel->auto_read());  // reading waits too
  channel->write_inbound(bytes("GET /later HTTP/1.1\r\n\r\n"));
  CHECK(channel->inbound_count() == 0);
  channel->write_outbound(switching());
  CHECK(channel->auto_read());
  CHECK(collect(*channel).raw == "GET /next HTTP/1.1\r\n\r\nGET /later HTTP/1.1\r\n\r\n");
}

TEST_CASE("an upgrade request answered with a final status lets HTTP go on with what followed") {
  const std::string input = kUpgradeGet + "GET /next HTTP/1.1\r\n\r\nPOST /last HTTP/1.1\r\n" +
                            "Content-Length: 2\r\n\r\nhi";
  SUBCASE("a whole response") {
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      CAPTURE(cut);
      auto channel = test::server_channel();
      test::write_in_pieces(*channel, input, {cut});
      const Inbound held = collect(*channel);
      REQUIRE_FALSE(held.lines.empty());
      CHECK(held.lines.front() == "GET /chat upgrade");
      CHECK(held.lines.size() <= 2);  // the upgrade request and its end, nothing after
      channel->write_outbound(ok("plain"));
      const Inbound after = collect(*channel, held);
      CHECK(after.lines == Lines{"GET /chat upgrade", "body ''", "GET /next", "body ''",
                                 "POST /last", "body 'hi'"});
      CHECK(after.raw.empty());
      channel->write_outbound(ok("n"), ok("l"));
      const std::string output = without_dates(test::outbound_text(*channel));
      CHECK(output ==
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: <date>\r\n\r\nplain"
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nn"
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nl");
      CHECK(channel->is_open());
    }
  }
  SUBCASE("a streamed response: decoding goes on once its head is out") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(input));
    CHECK(targets(*channel) == std::vector<std::string>{"/chat"});
    channel->write_outbound(HttpResponse(200).streamed(), bytes("part"));
    CHECK(targets(*channel) == std::vector<std::string>{"/next", "/last"});
    channel->write_outbound(HttpEnd{}, ok("n"), ok("l"));
    CHECK(channel->is_open());
  }
  SUBCASE("a response that closes: nothing after it is decoded") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(input));
    CHECK(targets(*channel) == std::vector<std::string>{"/chat"});
    channel->write_outbound(ok("no").close_connection());
    CHECK(targets(*channel).empty());
    CHECK(test::finish_exchange(*channel).closed);
  }
}

TEST_CASE("a 101 that answers no upgrade request fails and the connection closes") {
  // RFC 9110 §15.2.2: the server switches only to a protocol the client's Upgrade indicated.
  struct Case {
    std::string name;
    std::string requests;
    std::vector<HttpResponse> answers_first;
    HttpResponse switch_response;
  };
  std::vector<Case> cases;
  cases.push_back({"no request", "", {}, switching()});
  cases.push_back({"no Upgrade", "GET / HTTP/1.1\r\n\r\n", {}, switching()});
  cases.push_back({"Upgrade without the upgrade connection option",
                   "GET / HTTP/1.1\r\nUpgrade: example/1\r\nConnection: keep-alive\r\n\r\n",
                   {},
                   switching()});
  cases.push_back({"the upgrade connection option without Upgrade",
                   "GET / HTTP/1.1\r\nConnection: upgrade\r\n\r\n",
                   {},
                   switching()});
  cases.push_back({"an Upgrade field naming no protocol",
                   "GET / HTTP/1.1\r\nUpgrade: ,\r\nConnection: upgrade\r\n\r\n",
                   {},
                   switching()});
  cases.push_back({"a request that asks to close",
                   "GET / HTTP/1.1\r\nUpgrade: example/1\r\nConnection: upgrade, close\r\n\r\n",
                   {},
                   switching()});
  cases.push_back({"out of turn: an earlier request is owed its answer",
                   "GET /1 HTTP/1.1\r\n\r\n" + kUpgradeGet,
                   {},
                   switching()});
  cases.push_back({"the upgrade request already answered", kUpgradeGet, {}, switching()});
  cases.back().answers_first.push_back(ok("no"));
  cases.push_back({"a protocol the request did not offer",
                   kUpgradeGet,
                   {},
                   HttpResponse(101).header("Upgrade", "h2c")});
  cases.push_back({"one protocol of two not offered",
                   kUpgradeGet,
                   {},
                   HttpResponse(101).header("Upgrade", "example/1, h2c")});
  cases.push_back({"no Upgrade field in the 101", kUpgradeGet, {}, HttpResponse(101)});
  for (Case& c : cases) {
    CAPTURE(c.name);
    auto channel = test::server_channel();
    if (!c.requests.empty()) channel->write_inbound(bytes(c.requests));
    for (HttpResponse& answer : c.answers_first)
      channel->write_outbound(std::move(answer));
    const std::string before = test::outbound_text(*channel);
    const Error result = write_result(*channel, std::move(c.switch_response));
    CHECK(result.code() == CodecErrc::invalid_protocol_switch);
    CHECK_FALSE(result.message().empty());
    const test::ServerOutcome outcome = test::finish_exchange(*channel);
    CHECK((before + outcome.output).find(" 101 ") == std::string::npos);
    CHECK(outcome.output_shutdown);
    CHECK(outcome.closed);
  }
}

TEST_CASE("a 101 naming an offered protocol in another case, or several offered, switches") {
  for (const char* chosen : {"EXAMPLE/1", "other, example/1"}) {
    CAPTURE(chosen);
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kUpgradeGet + "raw"));
    CHECK(write_result(*channel, HttpResponse(101).header("Upgrade", HeaderValue::of(chosen)))
              .code() == std::error_code());
    CHECK(collect(*channel).raw == "raw");
  }
}

TEST_CASE("an HTTP/1.0 request's Upgrade is ignored") {
  // RFC 9110 §7.8: a server MUST ignore Upgrade in an HTTP/1.0 request.
  auto channel = test::server_channel();
  channel->write_inbound(
      bytes("GET /old HTTP/1.0\r\nUpgrade: example/1\r\nConnection: upgrade, keep-alive\r\n\r\n"
            "GET /next HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
  // Not held: the next request is decoded at once, and neither asks to upgrade.
  CHECK(collect(*channel).lines == Lines{"GET /old", "body ''", "GET /next", "body ''"});
  const Error result = write_result(*channel, switching());
  CHECK(result.code() == CodecErrc::invalid_protocol_switch);
  CHECK(test::finish_exchange(*channel).closed);
}

TEST_CASE("after a 101 bytes written go out untouched and HTTP responses are refused") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes(kUpgradeGet));
  CHECK(write_result(*channel, switching()).code() == std::error_code());
  // An application that ends every response with HttpEnd ends the 101's, which has no body:
  // nothing goes out.
  CHECK(write_result(*channel, HttpEnd{}).code() == std::error_code());
  CHECK(test::outbound_text(*channel) == kSwitchHead);
  const std::string forged = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil\x00\xff"s;
  CompositeBuffer composite;
  composite.append(bytes("com"));
  composite.append(bytes("posite"));
  channel->write_outbound(bytes(forged), std::move(composite), bytes(kRaw));
  CHECK(test::outbound_text(*channel) == forged + "composite" + kRaw);
  // An HTTP head would land inside the new protocol's bytes.
  const Error refused = write_result(*channel, ok("late"));
  CHECK(refused.code() == ChannelErrc::unsupported_message);
  CHECK(test::outbound_text(*channel).empty());
  channel->write_outbound(bytes("still"));
  CHECK(test::outbound_text(*channel) == "still");
  CHECK(channel->is_open());
  bool shut = false;
  CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
  channel->take_errors();
}

TEST_CASE("a 101 after a 204 or 304 that announced a body sends the new protocol's bytes") {
  // A 204 or 304 is complete with its head (RFC 9110 §6.4.1), so an application need not end
  // it with HttpEnd; the bytes written after a later 101 are the new protocol's all the same.
  for (const std::uint16_t status : {204, 304}) {
    CAPTURE(status);
    auto channel = test::server_channel();
    channel->write_inbound(bytes("GET /cached HTTP/1.1\r\n\r\n"));
    CHECK(write_result(*channel, HttpResponse(status).content_length(5)).code() ==
          std::error_code());
    channel->write_inbound(bytes(kUpgradeGet));
    CHECK(write_result(*channel, switching()).code() == std::error_code());
    channel->write_outbound(bytes(kRaw));
    const std::string output = test::outbound_text(*channel);
    CHECK(output.ends_with(kSwitchHead + kRaw));
    CHECK(channel->is_open());
  }
}

TEST_CASE("the end of input after a switch is the new protocol's, not an HTTP error") {
  const std::string partial = "GET /partial HTTP/1.1\r\nHos";
  SUBCASE("half-closed after the switch") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kUpgradeGet + partial));
    channel->write_outbound(switching());
    CHECK(collect(*channel).raw == partial);
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    channel->run_pending();
    CHECK(channel->inbound_count() == 0);  // no HttpDecodeError
    CHECK(channel->take_errors().empty());
    bool shut = false;
    CHECK_FALSE(test::saw_output_shutdown(*channel, shut));  // the codec does not close
    CHECK(test::outbound_text(*channel) == kSwitchHead);
    CHECK(channel->is_open());
    channel->write_outbound(bytes("bye"));
    CHECK(test::outbound_text(*channel) == "bye");
  }
  SUBCASE("half-closed while the answer was awaited") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kUpgradeGet + partial));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    channel->run_pending();
    // The half-close is held with the bytes before it, and goes on after them.
    CHECK(channel->take_user_events().empty());
    channel->write_outbound(switching());
    const Inbound inbound = collect(*channel);
    CHECK(inbound.lines == Lines{"GET /chat upgrade", "body ''", "raw"});
    CHECK(inbound.raw == partial);
    CHECK(channel->take_user_events().size() == 1);
    CHECK(channel->take_errors().empty());
    bool shut = false;
    CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
    CHECK(channel->is_open());
  }
  SUBCASE("closed after the switch") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kUpgradeGet));
    channel->write_outbound(switching());
    channel->write_inbound(bytes(partial));
    channel->finish();
    CHECK(collect(*channel).raw == partial);
    CHECK(channel->take_errors().empty());
    CHECK(test::outbound_text(*channel) == kSwitchHead);
  }
}

TEST_CASE("no limit of the HTTP decoder applies after a switch") {
  SUBCASE("nor the codec's backpressure") {
    // Answers that pile up unread hold requests back; they must not hold another protocol.
    ChannelOptions options;
    options.write_high_water_mark = 40;
    options.write_low_water_mark = 20;
    auto channel = EmbeddedChannel::create(
        [](Pipeline& p) {
          p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
        },
        options);
    channel->write_inbound(bytes(kUpgradeGet + "held"));
    channel->pipeline().write(switching());  // not flushed: the peer is not reading
    channel->run_pending();
    CHECK_FALSE(channel->is_writable());
    channel->write_inbound(bytes("more"));
    CHECK(collect(*channel).raw == "heldmore");
    CHECK(channel->auto_read());
    channel->flush();
    CHECK(test::outbound_text(*channel) == kSwitchHead);
  }
  http::HttpLimits limits = test::test_limits();
  limits.max_header_section = 128;
  limits.max_target = 16;
  const std::string large(64 * 1024, 'x');  // no line end: a head would be refused long before
  auto channel = test::server_channel(limits);
  channel->write_inbound(bytes(kUpgradeGet));
  channel->write_outbound(switching());
  for (int i = 0; i < 4; ++i)
    channel->write_inbound(bytes(large));
  const Inbound seen = collect(*channel);
  CHECK(seen.raw == large + large + large + large);
  CHECK(seen.raw_messages == 4);  // each read as it came, not joined
  CHECK(channel->is_open());
}

TEST_CASE("HttpObjectAggregator passes the bytes after a switch on, not as a body") {
  const std::string input = kUpgradePost + kRaw + std::string(4096, 'z');
  for (std::size_t cut = 0; cut <= input.size(); cut += (cut < kUpgradePost.size() + 64 ? 1 : 97)) {
    CAPTURE(cut);
    auto channel = EmbeddedChannel::create([](Pipeline& p) {
      p.add_last("http", std::make_unique<HttpServerCodec>(test::test_limits(), 5ms));
      p.add_last("aggregator", std::make_unique<HttpObjectAggregator>(1024));
      p.add_last("app", std::make_unique<Answerer>());
    });
    test::write_in_pieces(*channel, input, {cut});
    const Inbound seen = collect(*channel);
    CHECK(seen.lines == Lines{"full /up 'hello'", "raw"});
    CHECK(seen.raw == kRaw + std::string(4096, 'z'));
    CHECK(test::outbound_text(*channel) == kSwitchHead);  // no 413 for the raw bytes
    CHECK(channel->is_open());
  }
}

TEST_CASE("a codec taken out of the pipeline after its 101 passes on the bytes it held") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes(kUpgradeGet + kRaw));
  CHECK(targets(*channel) == std::vector<std::string>{"/chat"});
  channel->pipeline().write(switching());
  channel->pipeline().flush();
  channel->pipeline().remove("http");  // as an upgrade handler does, before the loop resumes
  channel->run_pending();
  CHECK(collect(*channel).raw == kRaw);
  CHECK(channel->auto_read());  // given back by the codec that paused it
  channel->write_inbound(bytes("next"));
  CHECK(collect(*channel).raw == "next");
}
