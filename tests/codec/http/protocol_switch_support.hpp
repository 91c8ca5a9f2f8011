#pragma once

// What the upgrade and CONNECT tests share: both watch bytes after a request leave HTTP.

#include <chrono>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "http_test_support.hpp"
#include "sluice/codec/http/http_object_aggregator.hpp"

namespace sluice::test {

// What reached the application: one line per request head (" upgrade" or " connect" when it
// asks to leave HTTP), whole body, aggregated request or decode error, and "raw" for a run of
// Buffers, whose bytes are joined in `raw`.
struct Inbound {
  std::vector<std::string> lines;
  std::string raw;
  std::size_t raw_messages = 0;
};

inline Inbound collect(EmbeddedChannel& channel, Inbound seen = {}) {
  std::string body;
  for (Message m = channel.read_inbound(); m; m = channel.read_inbound()) {
    if (const auto* buffer = m.get_if<Buffer>()) {
      if (seen.lines.empty() || seen.lines.back() != "raw") seen.lines.emplace_back("raw");
      seen.raw += text_of(*buffer);
      ++seen.raw_messages;
    } else if (const auto* request = m.get_if<http::HttpRequest>()) {
      seen.lines.push_back(std::string(request->method()) + " " + std::string(request->target()) +
                           (request->upgrade() ? " upgrade" : "") +
                           (request->is_connect() ? " connect" : ""));
    } else if (auto* content = m.get_if<http::HttpContent>()) {
      body += text_of(content->data);
      if (content->last) {
        seen.lines.push_back("body '" + body + "'");
        body.clear();
      }
    } else if (const auto* full = m.get_if<http::FullHttpRequest>()) {
      seen.lines.push_back("full " + std::string(full->head.target()) + " '" + text_of(full->body) +
                           "'");
    } else if (const auto* error = m.get_if<http::HttpDecodeError>()) {
      seen.lines.push_back("error " + std::to_string(error->status));
    } else {
      seen.lines.push_back("other " + std::string(m.type_name()));
    }
  }
  return seen;
}

// A server codec followed by `Application`, which answers from on_read.
template <typename Application>
Ref<EmbeddedChannel> answering_server() {
  return EmbeddedChannel::create([](Pipeline& p) {
    p.add_last("http", std::make_unique<http::HttpServerCodec>(test_limits(),
                                                               std::chrono::milliseconds(5)));
    p.add_last("app", std::make_unique<Application>());
  });
}

// Writes `message` from the tail and returns what its write completed with.
inline Error write_result(EmbeddedChannel& channel, Message&& message) {
  Error result(std::make_error_code(std::errc::operation_in_progress), "not completed");
  channel.pipeline().write(std::move(message), [&](const Error& error) { result = error; });
  channel.pipeline().flush();
  channel.run_pending();
  return result;
}

// Requests ending with one that asks to leave HTTP (an upgrade or a CONNECT), followed by
// `raw`, the other protocol's or the tunnel's bytes.
struct SwitchExchange {
  std::string name;
  std::string requests;
  std::vector<std::string> http;  // what the application sees of the requests
  std::string answers;            // what goes out, the switching answer included
};

// The exchange answered from on_read by `Application`, the input cut at every position (one
// cut, then a byte per read), so the raw bytes come in the last request's read and in later
// ones: the application sees the requests, then the raw bytes untouched.
template <typename Application>
void check_switch_answered_on_read(const SwitchExchange& exchange, const std::string& raw) {
  CAPTURE(exchange.name);
  const std::string input = exchange.requests + raw;
  std::vector<std::string> expected = exchange.http;
  expected.emplace_back("raw");
  for (std::size_t cut = 0; cut <= input.size() + 1; ++cut) {
    CAPTURE(cut);
    auto channel = answering_server<Application>();
    if (cut <= input.size()) {
      write_in_pieces(*channel, input, {cut});
    } else {
      write_byte_by_byte(*channel, input);
    }
    const Inbound seen = collect(*channel);
    CHECK(seen.lines == expected);
    CHECK(seen.raw == raw);
    CHECK(without_dates(outbound_text(*channel)) == exchange.answers);
    CHECK(channel->is_open());
  }
}

// The exchange answered by `answer(channel, cut)` once the last request has been seen, the
// first `cut` bytes of the input in: what came with the request is held until then, what comes
// after goes on as it arrives.
template <typename Answer>
void check_switch_answered_later(const SwitchExchange& exchange, const std::string& raw,
                                 Answer answer) {
  CAPTURE(exchange.name);
  const std::string input = exchange.requests + raw;
  std::vector<std::string> expected = exchange.http;
  expected.emplace_back("raw");
  for (std::size_t cut = exchange.requests.size(); cut <= input.size(); ++cut) {
    CAPTURE(cut);
    auto channel = server_channel();
    channel->write_inbound(bytes(input.substr(0, cut)));
    Inbound seen = collect(*channel);
    CHECK(seen.raw.empty());  // held until the answer is known
    answer(*channel, cut);
    if (cut < input.size()) channel->write_inbound(bytes(input.substr(cut)));
    seen = collect(*channel, std::move(seen));
    CHECK(seen.lines == expected);
    CHECK(seen.raw == raw);
    CHECK(without_dates(outbound_text(*channel)) == exchange.answers);
    CHECK(channel->is_open());
  }
}

}  // namespace sluice::test
