// Tunnels through HttpServerCodec (RFC 9110 §9.3.6): what follows a CONNECT waits for its
// answer; after a 2xx it is the tunnel's bytes, both ways, and any other answer is HTTP's.

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include "http_test_support.hpp"
#include "protocol_switch_support.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_status.hpp"

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

// As curl -p -x sends it.
const std::string kConnect =
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"
    "User-Agent: curl/8.5.0\r\nProxy-Connection: Keep-Alive\r\n\r\n";
// What a client sends into the tunnel before it sees the answer (a TLS ClientHello, say):
// binary, and text that an HTTP parser would take for requests or refuse.
const std::string kTunnelData =
    "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1 GET /not-http HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\n"
    "Content-Length: 9\r\n\r\n\r\n\n\r bare LF\n and \x00\x00 HTTP/9.9\r\n"s;
const std::string kTunnelHead = "HTTP/1.1 200 OK\r\nDate: <date>\r\n\r\n";

// Answers each request from on_read, as a proxy does once it has connected out: 200 to a
// CONNECT, 200 with the target as body to any other request.
class Answerer final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    if (const auto* request = message.get_if<HttpRequest>()) {
      if (request->is_connect()) {
        ctx.write_and_flush(HttpResponse(200));
      } else {
        ctx.write_and_flush(HttpResponse(200).body(bytes(request->target())));
      }
    }
    ctx.fire_read(std::move(message));
  }
};

}  // namespace

TEST_CASE("tunnel data sent right after a CONNECT is held, then after a 200 goes on untouched") {
  const std::vector<test::SwitchExchange> exchanges = {
      {"curl", kConnect, {"CONNECT example.com:443 connect", "body ''"}, kTunnelHead},
      // Old clients send HTTP/1.0 without keep-alive: the 2xx makes a tunnel all the same.
      {"HTTP/1.0",
       "CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n\r\n",
       {"CONNECT [2001:db8::1]:8443 connect", "body ''"},
       kTunnelHead},
      {"asking to close",
       "CONNECT h:1 HTTP/1.1\r\nHost: h:1\r\nConnection: close\r\n\r\n",
       {"CONNECT h:1 connect", "body ''"},
       kTunnelHead},
      {"behind a pipelined request",
       "GET /first HTTP/1.1\r\n\r\n" + kConnect,
       {"GET /first", "body ''", "CONNECT example.com:443 connect", "body ''"},
       "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nDate: <date>\r\n\r\n/first" + kTunnelHead},
  };
  for (const test::SwitchExchange& exchange : exchanges) {
    test::check_switch_answered_on_read<Answerer>(exchange, kTunnelData);
    // Answered once the CONNECT has been seen, as a proxy answers when it has connected out.
    test::check_switch_answered_later(
        exchange, kTunnelData, [&](EmbeddedChannel& channel, std::size_t cut) {
          if (cut > exchange.requests.size()) CHECK_FALSE(channel.auto_read());  // reading waits
          if (exchange.http.size() > 2) {
            channel.write_outbound(HttpResponse(200).body(bytes("/first")));
          }
          CHECK(write_result(channel, HttpResponse(200)).code() == std::error_code());
          CHECK(channel.auto_read());
        });
  }
}

TEST_CASE("the 2xx that opens a tunnel has no Content-Length, Transfer-Encoding or Connection") {
  // RFC 9110 §9.3.6: a server MUST NOT send either framing field in a 2xx to CONNECT. An empty
  // body, or a length of 0, announces no content and is no reason to refuse.
  struct Case {
    std::string name;
    std::string request;
    HttpResponse answer;
    std::string head;
  };
  std::vector<Case> cases;
  cases.push_back({"200", kConnect, HttpResponse(200), kTunnelHead});
  cases.push_back({"HTTP/1.0, which would get keep-alive or close", "CONNECT h:1 HTTP/1.0\r\n\r\n",
                   HttpResponse(200), kTunnelHead});
  cases.push_back({"a length of 0", kConnect, HttpResponse(200).content_length(0), kTunnelHead});
  cases.push_back({"an empty body", kConnect, HttpResponse(200).body(Buffer()), kTunnelHead});
  cases.push_back({"another 2xx, with fields of its own and a Date", kConnect,
                   HttpResponse(204).header("Proxy-Agent", "sluice").header("Date", "then"),
                   "HTTP/1.1 204 No Content\r\nProxy-Agent: sluice\r\nDate: <date>\r\n\r\n"});
  for (Case& c : cases) {
    CAPTURE(c.name);
    auto channel = test::server_channel();
    channel->write_inbound(bytes(c.request + "tunnel"));
    CHECK(write_result(*channel, std::move(c.answer)).code() == std::error_code());
    CHECK(without_dates(test::outbound_text(*channel)) == c.head);
    CHECK(collect(*channel).raw == "tunnel");
    CHECK(channel->is_open());
  }
}

TEST_CASE("after a CONNECT answered with another final status the held bytes are HTTP") {
  const std::string input = kConnect + "GET /next HTTP/1.1\r\n\r\nPOST /last HTTP/1.1\r\n" +
                            "Content-Length: 2\r\n\r\nhi";
  SUBCASE("a whole response, such as 407") {
    for (std::size_t cut = 0; cut <= input.size(); ++cut) {
      CAPTURE(cut);
      auto channel = test::server_channel();
      test::write_in_pieces(*channel, input, {cut});
      const Inbound held = collect(*channel);
      REQUIRE_FALSE(held.lines.empty());
      CHECK(held.lines.front() == "CONNECT example.com:443 connect");
      CHECK(held.lines.size() <= 2);  // the CONNECT and its end, nothing after
      channel->write_outbound(HttpResponse(407)
                                  .header("Proxy-Authenticate", "Basic realm=\"proxy\"")
                                  .body(bytes("auth")));
      const Inbound after = collect(*channel, held);
      CHECK(after.lines == Lines{"CONNECT example.com:443 connect", "body ''", "GET /next",
                                 "body ''", "POST /last", "body 'hi'"});
      CHECK(after.raw.empty());
      channel->write_outbound(HttpResponse(200).body(bytes("n")),
                              HttpResponse(200).body(bytes("l")));
      CHECK(without_dates(test::outbound_text(*channel)) ==
            "HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic "
            "realm=\"proxy\"\r\nContent-Length: 4\r\nDate: <date>\r\n\r\nauth"
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nn"
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nl");
      CHECK(channel->is_open());
    }
  }
  SUBCASE("a streamed 502: decoding goes on once its head is out") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(input));
    CHECK(collect(*channel).lines == Lines{"CONNECT example.com:443 connect", "body ''"});
    channel->write_outbound(HttpResponse(502).streamed(), bytes("unreachable"));
    CHECK(collect(*channel).lines == Lines{"GET /next", "body ''", "POST /last", "body 'hi'"});
    channel->write_outbound(HttpEnd{}, HttpResponse(200), HttpResponse(200));
    CHECK(channel->is_open());
  }
  SUBCASE("an HTTP/1.0 CONNECT without keep-alive: the connection closes after the refusal") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes("CONNECT h:1 HTTP/1.0\r\n\r\nGET /next HTTP/1.1\r\n\r\n"));
    CHECK(collect(*channel).lines == Lines{"CONNECT h:1 connect", "body ''"});
    channel->write_outbound(HttpResponse(403));
    CHECK(collect(*channel).lines.empty());
    const test::ServerOutcome outcome = test::finish_exchange(*channel);
    CHECK(test::first_status(outcome.output) == 403);
    CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
    CHECK(outcome.closed);
  }
}

TEST_CASE("a 2xx to CONNECT with content or a close fails and the connection closes") {
  // The bytes after the 2xx's head are the tunnel's: a body would be read as tunnel data.
  std::vector<std::pair<std::string, HttpResponse>> answers;
  answers.emplace_back("a body", HttpResponse(200).body(bytes("x")));
  answers.emplace_back("a length", HttpResponse(200).content_length(5));
  answers.emplace_back("streamed", HttpResponse(200).streamed());
  answers.emplace_back("close_connection", HttpResponse(200).close_connection());
  for (auto& [name, answer] : answers) {
    CAPTURE(name);
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kConnect + "tunnel"));
    const Error result = write_result(*channel, std::move(answer));
    CHECK(result.code() == CodecErrc::invalid_protocol_switch);
    CHECK_FALSE(result.message().empty());
    // The body written after it goes nowhere either.
    CHECK(write_result(*channel, bytes("xxxxx")).code() != std::error_code());
    CHECK(collect(*channel).raw.empty());  // no tunnel
    const test::ServerOutcome outcome = test::finish_exchange(*channel);
    CHECK(outcome.output.empty());
    CHECK(outcome.output_shutdown);
    CHECK(outcome.closed);
  }
}

TEST_CASE("once the tunnel is open bytes written go out untouched and HTTP responses are refused") {
  auto channel = test::server_channel();
  channel->write_inbound(bytes(kConnect));
  CHECK(write_result(*channel, HttpResponse(200)).code() == std::error_code());
  // An application that ends every response with HttpEnd ends the 200's, as it would a 101's:
  // nothing goes out.
  CHECK(write_result(*channel, HttpEnd{}).code() == std::error_code());
  CHECK(without_dates(test::outbound_text(*channel)) == kTunnelHead);
  // What the destination sends back, relayed as it comes: a forged HTTP response is just bytes.
  const std::string forged = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil\x00\xff"s;
  CompositeBuffer composite;
  composite.append(bytes("com"));
  composite.append(bytes("posite"));
  channel->write_outbound(bytes(forged), std::move(composite), bytes(kTunnelData));
  CHECK(test::outbound_text(*channel) == forged + "composite" + kTunnelData);
  // An HTTP head, whole body or not, would land inside the tunnel's bytes.
  CHECK(write_result(*channel, HttpResponse(200).body(bytes("late"))).code() ==
        ChannelErrc::unsupported_message);
  CHECK(write_result(*channel, HttpResponse(502)).code() == ChannelErrc::unsupported_message);
  CHECK(test::outbound_text(*channel).empty());
  channel->write_outbound(bytes("still"));
  CHECK(test::outbound_text(*channel) == "still");
  CHECK(channel->is_open());
  bool shut = false;
  CHECK_FALSE(test::saw_output_shutdown(*channel, shut));
  channel->take_errors();
}

TEST_CASE("a CONNECT is answered 1xx as any request, and 101 is refused") {
  SUBCASE("an interim 1xx goes out, then the 2xx opens the tunnel") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kConnect + "early"));
    CHECK(write_result(*channel, HttpResponse(103).header("Link", "</a>; rel=preload")).code() ==
          std::error_code());
    CHECK(collect(*channel).raw.empty());  // a 1xx is not the answer
    CHECK(write_result(*channel, HttpResponse(200)).code() == std::error_code());
    CHECK(without_dates(test::outbound_text(*channel)) ==
          "HTTP/1.1 103 " + std::string(reason_phrase(103)) +
              "\r\nLink: </a>; rel=preload\r\n\r\n" + kTunnelHead);
    CHECK(collect(*channel).raw == "early");
  }
  SUBCASE("a 101: a CONNECT does not ask to upgrade") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kConnect));
    const Error result = write_result(*channel, HttpResponse(101).header("Upgrade", "example/1"));
    CHECK(result.code() == CodecErrc::invalid_protocol_switch);
    const test::ServerOutcome outcome = test::finish_exchange(*channel);
    CHECK(outcome.output.find(" 101 ") == std::string::npos);
    CHECK(outcome.closed);
  }
}

TEST_CASE("the end of input is the tunnel's, not an HTTP error") {
  const std::string partial = "GET /partial HTTP/1.1\r\nHos";
  SUBCASE("half-closed while the answer was awaited") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kConnect + partial));
    channel->pipeline().fire_user_event(ChannelInputShutdown{});
    channel->run_pending();
    CHECK(channel->take_user_events().empty());  // held with the bytes before it
    channel->write_outbound(HttpResponse(200));
    const Inbound inbound = collect(*channel);
    CHECK(inbound.lines == Lines{"CONNECT example.com:443 connect", "body ''", "raw"});
    CHECK(inbound.raw == partial);
    CHECK(channel->take_user_events().size() == 1);
    CHECK(channel->take_errors().empty());
    bool shut = false;
    CHECK_FALSE(test::saw_output_shutdown(*channel, shut));  // the tunnel's end is the proxy's
    CHECK(channel->is_open());
  }
  SUBCASE("closed after the tunnel opened") {
    auto channel = test::server_channel();
    channel->write_inbound(bytes(kConnect));
    channel->write_outbound(HttpResponse(200));
    channel->write_inbound(bytes(partial));
    channel->finish();
    CHECK(collect(*channel).raw == partial);
    CHECK(channel->take_errors().empty());
  }
}
