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

}  // namespace sluice::test
