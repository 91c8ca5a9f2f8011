// libFuzzer target: HTTP/1.1 request decoding.
//
// Input: 2 + 2 bytes of cut offsets, 1 byte of options, then the bytes a client sends.
//   1. HttpServerCodec + HttpObjectAggregator + a handler answering each request, fed the bytes
//      in three reads: the whole server side (pipelining, errors, graceful close, CONNECT
//      tunnels) runs under ASan/UBSan.
//   2. HttpRequestDecoder fed the bytes in one read, and again in three: both must decode the
//      same requests, bodies, trailers and errors (incremental parsing must not change the
//      result), and what is decoded must satisfy the grammar it was checked against.

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/codec/http/http_object_aggregator.hpp"
#include "sluice/codec/http/http_request_decoder.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_server_codec.hpp"

namespace {

using namespace sluice;
using namespace sluice::http;
using sluice::fuzz::FuzzInput;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "invariant violated: %s\n", fuzz::printable(what, 2000).c_str());
  std::abort();
}

bool is_tchar(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

void check_token(std::string_view token, const char* what) {
  if (token.empty()) fail(std::string(what) + " is empty");
  for (char c : token) {
    if (!is_tchar(static_cast<unsigned char>(c)))
      fail(std::string(what) + " is not a token: " + std::string(token));
  }
}

void check_value(std::string_view value) {
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                         value.back() == '\t')) {
    fail("field value not trimmed: " + std::string(value));
  }
  for (char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7f) fail("control octet in a field value");
  }
}

std::string describe_fields(const HttpFields& fields) {
  std::string out;
  for (const Field field : fields) {
    check_token(field.name, "field name");
    check_value(field.value);
    out.append(field.name).append(": ").append(field.value).append("\n");
  }
  return out;
}

// The transcript of what a decoder emitted, checked as it goes.
class Transcript {
 public:
  void add(Message&& message) {
    if (errored_) fail("a message after the decode error");
    if (const auto* request = message.get_if<HttpRequest>()) {
      if (in_request_) fail("a request before the previous one's last content");
      in_request_ = true;
      check_token(request->method(), "method");
      const std::string_view target = request->target();
      if (target.empty()) fail("empty target");
      for (char c : target) {
        if (c <= 0x20 || c == 0x7f) fail("bad octet in the target");
      }
      const std::string_view version = request->version();
      if (version.substr(0, 7) != "HTTP/1." || version.size() != 8 ||
          version[7] - '0' != request->version_minor()) {
        fail("bad version " + std::string(version));
      }
      if (request->chunked() && request->content_length()) fail("chunked with a length");
      if (request->is_connect() &&
          (request->method() != "CONNECT" || target.front() == '/' || request->chunked() ||
           request->content_length().value_or(0) != 0)) {
        fail("a CONNECT that is not one, or with content");
      }
      expected_length_ = request->content_length();
      std::string line = "request " + std::string(request->method()) + " " + std::string(target) +
                         " " + std::string(version) +
                         (request->keep_alive() ? " keep-alive" : " close") +
                         (request->chunked() ? " chunked" : "") +
                         (request->expects_continue() ? " expect-100" : "") +
                         (request->is_connect() ? " connect" : "");
      if (expected_length_) line += " length=" + std::to_string(*expected_length_);
      line += "\n" + describe_fields(request->headers());
      log_.push_back(std::move(line));
      return;
    }
    if (auto* content = message.get_if<HttpContent>()) {
      if (!in_request_) fail("content outside a request");
      body_ += fuzz::to_string(content->data);
      if (expected_length_ && body_.size() > *expected_length_)
        fail("body longer than Content-Length");
      if (!content->last) {
        if (!content->trailers.empty()) fail("trailers on a content that is not the last");
        return;
      }
      if (expected_length_ && body_.size() != *expected_length_)
        fail("body shorter than Content-Length");
      log_.push_back("body " + body_ + "\ntrailers\n" + describe_fields(content->trailers));
      body_.clear();
      in_request_ = false;
      return;
    }
    if (const auto* error = message.get_if<HttpDecodeError>()) {
      errored_ = true;
      if (error->status < 400 || error->status > 599)
        fail("error status " + std::to_string(error->status));
      if (error->reason.empty()) fail("error without a reason");
      // The status may depend on where the reads were cut (an over-long line with a bad octet
      // in it is 414 when seen whole, 400 when the bad octet arrives first): not compared.
      log_.push_back(std::string("error") + (error->in_body ? " in body" : ""));
      return;
    }
    fail("unexpected message type from the decoder");
  }

  std::vector<std::string> finish() {
    // A request cut short by the end of the input is recorded as such.
    if (in_request_) log_.push_back("unfinished body " + body_);
    return std::move(log_);
  }

 private:
  std::vector<std::string> log_;
  std::string body_;
  std::optional<std::uint64_t> expected_length_;
  bool in_request_ = false;
  bool errored_ = false;
};

std::vector<std::string> decode(const HttpLimits& limits,
                                const std::vector<std::span<const std::byte>>& reads) {
  auto collector = std::make_shared<fuzz::Collector>();
  auto channel = EmbeddedChannel::create([limits, collector](Pipeline& pipeline) {
    pipeline.add_last("decoder", std::make_unique<HttpRequestDecoder>(limits));
    pipeline.add_last("collector", collector);
  });
  Transcript transcript;
  auto drain = [&] {
    for (Message& message : collector->messages)
      transcript.add(std::move(message));
    collector->messages.clear();
    for (const Error& error : collector->errors)
      fail("decoder raised " + error.message());
  };
  for (const auto& read : reads) {
    if (read.empty()) continue;
    channel->write_inbound(fuzz::read_buffer(read));
    drain();
  }
  channel->finish();
  drain();
  return transcript.finish();
}

// Answers every aggregated request with its body, as the echo example does, and a CONNECT
// with a 200 that opens the tunnel (what follows reaches it as Buffers, dropped here).
class Responder final : public ChannelHandler {
 public:
  void on_read(HandlerContext& ctx, Message&& message) override {
    auto* request = message.get_if<FullHttpRequest>();
    if (request == nullptr) return;
    if (request->head.is_connect()) {
      ctx.write(HttpResponse(200));
      return;
    }
    Buffer body = request->body.coalesce();
    ctx.write(HttpResponse(200).header("Content-Type", "text/plain").body(std::move(body)));
  }
  void on_read_complete(HandlerContext& ctx) override { ctx.flush(); }
};

void serve(const HttpLimits& limits, std::chrono::milliseconds linger, std::size_t max_body,
           const std::vector<std::span<const std::byte>>& reads) {
  auto channel = EmbeddedChannel::create([&](Pipeline& pipeline) {
    pipeline.add_last("http", std::make_unique<HttpServerCodec>(limits, linger));
    pipeline.add_last("aggregator", std::make_unique<HttpObjectAggregator>(max_body));
    pipeline.add_last("responder", std::make_unique<Responder>());
  });
  std::string out;
  for (const auto& read : reads) {
    if (read.empty()) continue;
    channel->write_inbound(fuzz::read_buffer(read));
    while (Message message = channel->read_outbound()) {
      if (const auto* bytes = message.get_if<Buffer>()) out += fuzz::to_string(*bytes);
    }
  }
  channel->finish();
  while (Message message = channel->read_outbound()) {
    if (const auto* bytes = message.get_if<Buffer>()) out += fuzz::to_string(*bytes);
  }
  while (channel->read_inbound()) {
  }
  channel->take_errors();
  if (!out.empty() && out.rfind("HTTP/1.1 ", 0) != 0)
    fail("server output is not a response: " + out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const std::size_t cut_a = input.u16();
  const std::size_t cut_b = input.u16();
  const std::uint8_t options = input.u8();
  const auto bytes = input.rest();
  if (bytes.empty()) return 0;

  HttpLimits limits;
  // Most seeds (the conformance vectors) carry no Host: both ways are fuzzed.
  limits.require_host = (options & 8) != 0;
  if (options & 1) {
    // Small limits, so that short inputs reach every limit's code.
    limits.max_target = 64;
    limits.max_method = 8;
    limits.max_header_section = 256;
    limits.max_header_count = 8;
    limits.max_chunk_line = 32;
  }
  const auto linger =
      (options & 2) ? std::chrono::milliseconds(0) : std::chrono::milliseconds(2000);
  const std::size_t max_body = (options & 4) ? 16 : 1024 * 1024;

  const auto pieces = fuzz::split_at(bytes, cut_a, cut_b);
  serve(limits, linger, max_body, pieces);

  const std::vector<std::string> whole = decode(limits, {bytes});
  const std::vector<std::string> split = decode(limits, pieces);
  fuzz::expect_same(whole, split, "HttpRequestDecoder");
  return 0;
}
