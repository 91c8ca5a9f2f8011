#pragma once

// Helpers shared by the HTTP codec tests: requests in, a readable account of what came out.

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec_test_support.hpp"
#include "sluice/codec/http/http_limits.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/codec/http/http_request_decoder.hpp"
#include "sluice/codec/http/http_server_codec.hpp"

namespace sluice::test {

// "GET /a HTTP/1.1 keep-alive [Host: x] [X-A: 1]" and so on: what a test compares.
inline std::string describe_request(const http::HttpRequest& request) {
  std::string text = std::string(request.method()) + " " + std::string(request.target()) + " " +
                     std::string(request.version());
  text += request.keep_alive() ? " keep-alive" : " close";
  if (request.content_length()) text += " length=" + std::to_string(*request.content_length());
  if (request.chunked()) text += " chunked";
  if (request.expects_continue()) text += " expects-continue";
  for (const http::Field field : request.headers()) {
    text += " [" + std::string(field.name) + ": " + std::string(field.value) + "]";
  }
  return text;
}

inline std::string describe_fields(const http::HttpFields& fields) {
  std::string text;
  for (const http::Field field : fields) {
    text += " [" + std::string(field.name) + ": " + std::string(field.value) + "]";
  }
  return text;
}

// The messages that reached the tail, one line per request head, one per whole body (its
// pieces joined: how a body is cut into pieces depends on how it arrived) and one per error:
//   "GET / HTTP/1.1 keep-alive [Host: x]", "body 'hello' trailers [X: y]", "error 400"
inline std::vector<std::string> describe_inbound(EmbeddedChannel& channel) {
  std::vector<std::string> lines;
  std::string body;
  bool in_body = false;
  const auto end_partial_body = [&] {
    if (in_body) lines.push_back("partial body '" + body + "'");
    body.clear();
    in_body = false;
  };
  for (Message message = channel.read_inbound(); message; message = channel.read_inbound()) {
    if (auto* content = message.get_if<http::HttpContent>()) {
      body += text_of(content->data);
      in_body = true;
      if (content->last) {
        lines.push_back(
            "body '" + body + "'" +
            (content->trailers.empty() ? "" : " trailers" + describe_fields(content->trailers)));
        body.clear();
        in_body = false;
      }
      continue;
    }
    end_partial_body();
    if (auto* request = message.get_if<http::HttpRequest>()) {
      lines.push_back(describe_request(*request));
    } else if (auto* error = message.get_if<http::HttpDecodeError>()) {
      lines.push_back("error " + std::to_string(error->status) +
                      (error->in_body ? " in body" : ""));
    } else {
      lines.push_back("other " + std::string(message.type_name()));
    }
  }
  end_partial_body();
  return lines;
}

// The limits the tests decode with unless they say otherwise: their requests mostly come
// without Host, whose check (HttpLimits::require_host) has tests of its own.
// `text` with every Date field's value replaced by "<date>", so that output compares exactly.
inline std::string without_dates(std::string text) {
  for (std::size_t at = text.find("\r\nDate: "); at != std::string::npos;
       at = text.find("\r\nDate: ", at + 2)) {
    const std::size_t value = at + 8;
    text.replace(value, text.find("\r\n", value) - value, "<date>");
  }
  return text;
}

inline http::HttpLimits test_limits() {
  http::HttpLimits limits;
  limits.require_host = false;
  return limits;
}

inline Ref<EmbeddedChannel> request_decoder(const http::HttpLimits& limits = test_limits()) {
  return EmbeddedChannel::create([limits](Pipeline& p) {
    p.add_last("http", std::make_unique<http::HttpRequestDecoder>(limits));
  });
}

// What HttpRequestDecoder makes of `raw`, written in one piece.
inline std::vector<std::string> decode_requests(std::string_view raw,
                                                const http::HttpLimits& limits = test_limits()) {
  auto channel = request_decoder(limits);
  channel->write_inbound(bytes(raw));
  return describe_inbound(*channel);
}

// The same, with the input cut at `cuts`.
inline std::vector<std::string> decode_requests_in_pieces(
    std::string_view raw, const std::vector<std::size_t>& cuts,
    const http::HttpLimits& limits = test_limits()) {
  auto channel = request_decoder(limits);
  write_in_pieces(*channel, raw, cuts);
  return describe_inbound(*channel);
}

// A server codec on an embedded channel, with a short linger so that a graceful close ends
// within the test.
inline Ref<EmbeddedChannel> server_channel(const http::HttpLimits& limits = test_limits()) {
  return EmbeddedChannel::create([limits](Pipeline& p) {
    p.add_last("http",
               std::make_unique<http::HttpServerCodec>(limits, std::chrono::milliseconds(5)));
  });
}

// Whether the channel saw its output shut down (the FIN of a graceful close).
inline bool saw_output_shutdown(EmbeddedChannel& channel, bool& seen) {
  for (Message& event : channel.take_user_events()) {
    if (event.is<ChannelOutputShutdown>()) seen = true;
  }
  return seen;
}

struct ServerOutcome {
  std::string output;  // every byte written
  bool output_shutdown = false;
  bool closed = false;
};

// Waits for a graceful close to finish (output shut down, then the channel closed after the
// linger) and returns what was written.
inline ServerOutcome finish_exchange(EmbeddedChannel& channel) {
  ServerOutcome outcome;
  outcome.closed = poll_until(channel, [&] {
    saw_output_shutdown(channel, outcome.output_shutdown);
    return !channel.is_open();
  });
  outcome.output = outbound_text(channel);
  return outcome;
}

// The status of the first response in `output`, or 0.
inline int first_status(std::string_view output) {
  if (output.size() < 12 || output.substr(0, 9) != "HTTP/1.1 ") return 0;
  return std::stoi(std::string(output.substr(9, 3)));
}

// `raw` must be refused with `status`: by HttpRequestDecoder as one HttpDecodeError (after
// whatever valid requests come first) with nothing decoded after it, and by HttpServerCodec
// with an error response carrying "Connection: close", then a closed connection.
inline void check_rejected(std::string_view raw, int status,
                           const http::HttpLimits& limits = test_limits()) {
  INFO("request: ", std::string(raw.substr(0, 300)));
  const auto decoded = decode_requests(raw, limits);
  REQUIRE_FALSE(decoded.empty());
  CHECK(decoded.back().rfind("error " + std::to_string(status), 0) == 0);
  // Nothing after the error is decoded: the connection is done.
  CHECK(decode_requests(std::string(raw) + "GET /after HTTP/1.1\r\n\r\n", limits) == decoded);

  auto channel = server_channel(limits);
  channel->write_inbound(bytes(raw));
  const ServerOutcome outcome = finish_exchange(*channel);
  CHECK(first_status(outcome.output) == status);
  CHECK(outcome.output.find("\r\nConnection: close\r\n") != std::string::npos);
  CHECK(outcome.output_shutdown);
  CHECK(outcome.closed);
}

}  // namespace sluice::test
