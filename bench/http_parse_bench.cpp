// sluice-bench-http-parse: parsing an HTTP/1.1 request head, sluice against nodejs/http-parser
// (Debian's libhttp-parser-dev, 2.9.4) on the same bytes, in one binary and one run.
//
//   taskset -c 1 sluice-bench-http-parse --benchmark_repetitions=5
//       --benchmark_enable_random_interleaving=true --benchmark_report_aggregates_only=true
//
// On a busy machine compare CPU time (items_per_second is computed from it), not wall time.
//
// Inputs: a typical browser GET (417 bytes, 9 field lines) and a request with 20 field lines
// (802 bytes).
// Each benchmark parses one whole request from one contiguous buffer per iteration and reports
// bytes/s and requests/s (items_per_second).
//
//   Sluice_HeadParser  HttpHeadParser::parse_request, then what HttpRequestDecoder builds from
//                      it: the HttpFields (a retained slice of the bytes, the FieldRef table in a
//                      pooled buffer) and the framing decisions (Content-Length,
//                      Transfer-Encoding, keep-alive, Expect) made as decode_head makes them.
//   Sluice_Decoder     the real HttpRequestDecoder in an EmbeddedChannel, its HttpRequest and
//                      (empty, last) HttpContent messages taken by a handler at the tail; batch:1
//                      is one request per read, batch:16 sixteen pipelined requests per read.
//                      Each read also costs one pass of the embedded loop (an epoll_wait call),
//                      which batch:16 spreads over sixteen requests.
//   HttpParser         http_parser_execute with callbacks that record the spans of the URL and
//                      of each field name and value (the equivalent of sluice's FieldRef table),
//                      then http_should_keep_alive.

#include <benchmark/benchmark.h>
#include <http_parser.h>

#include <array>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/codec/http/http_fields.hpp"
#include "sluice/codec/http/http_head_parser.hpp"
#include "sluice/codec/http/http_request.hpp"
#include "sluice/codec/http/http_request_decoder.hpp"
#include "sluice/codec/http/request_framing.hpp"

namespace {

using namespace sluice;
using namespace sluice::http;

// A Firefox navigation request: 9 field lines, 417 bytes.
constexpr std::string_view kBrowserGet =
    "GET /wiki/Hypertext_Transfer_Protocol HTTP/1.1\r\n"
    "Host: en.wikipedia.org\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "\r\n";

// An API request through a proxy chain: 20 field lines, 802 bytes.
constexpr std::string_view kTwentyHeaders =
    "POST /api/v2/orders/batch?dry_run=false HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "User-Agent: Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36\r\n"
    "Accept: application/json, text/plain, */*\r\n"
    "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 0\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig\r\n"
    "Origin: https://shop.example.com\r\n"
    "Referer: https://shop.example.com/checkout/review\r\n"
    "Connection: keep-alive\r\n"
    "Cache-Control: no-cache\r\n"
    "Pragma: no-cache\r\n"
    "X-Request-ID: 7d3b2e9a-51c4-4f1e-9a0b-6c2d8e4f1a37\r\n"
    "X-Forwarded-For: 203.0.113.7, 198.51.100.23\r\n"
    "X-Forwarded-Proto: https\r\n"
    "X-Real-IP: 203.0.113.7\r\n"
    "Sec-Fetch-Site: same-site\r\n"
    "Sec-Fetch-Mode: cors\r\n"
    "Cookie: session=4f6d2c1a9b; theme=dark; consent=1\r\n"
    "\r\n";

std::string_view input(int which) {
  return which == 0 ? kBrowserGet : kTwentyHeaders;
}

void report(benchmark::State& state, std::string_view request) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) *
                          static_cast<std::int64_t>(request.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.SetLabel(std::to_string(request.size()) + " B");
}

// ------------------------------------------------------------------------------------------
// sluice: HttpHeadParser and what the decoder builds from it.

void Sluice_HeadParser(benchmark::State& state) {
  const std::string_view request = input(static_cast<int>(state.range(0)));
  const Buffer bytes = Buffer::copy_of(request);
  HttpHeadParser parser{HttpLimits{}};
  for (auto _ : state) {
    parser.reset();
    if (parser.parse_request(bytes.readable_span()) != HttpHeadParser::Outcome::kComplete) {
      state.SkipWithError("the request did not parse");
      break;
    }
    // HttpRequestDecoder::take_fields: the FieldRef table in a buffer, the head's bytes as a
    // retained slice of the read buffer.
    const auto& refs = parser.fields();
    Buffer table = Buffer::allocate(refs.size() * sizeof(FieldRef));
    table.write_bytes(std::as_bytes(std::span(refs)));
    HttpFields fields(bytes.slice(bytes.reader_index(), parser.length()), std::move(table),
                      refs.size());
    const RequestFraming framing = decide_request_framing(fields, parser.version_minor());
    benchmark::DoNotOptimize(framing);
    benchmark::DoNotOptimize(parser.method_length() + parser.target_offset());
    benchmark::DoNotOptimize(fields);
  }
  report(state, request);
}

// Takes the decoder's messages at the end of the pipeline: reading them back with
// EmbeddedChannel::read_inbound would run the embedded loop (an epoll_wait) once per message.
class CountingSink final : public ChannelHandler {
 public:
  void on_read(HandlerContext&, Message&& message) override {
    if (message.is<HttpRequest>()) {
      ++requests;
    } else if (const auto* content = message.get_if<HttpContent>(); content && content->last) {
      ++completed;
    }
  }
  std::uint64_t requests = 0;
  std::uint64_t completed = 0;
};

// range(1) requests pipelined in each read. With 1, every request costs one pass of the
// embedded loop (uv_run, one epoll_wait system call) besides the decoding.
void Sluice_Decoder(benchmark::State& state) {
  const std::string_view request = input(static_cast<int>(state.range(0)));
  const auto batch = static_cast<std::size_t>(state.range(1));
  std::string reads;
  for (std::size_t i = 0; i < batch; ++i)
    reads.append(request);
  const Buffer bytes = Buffer::copy_of(reads);
  auto sink_owner = std::make_unique<CountingSink>();
  CountingSink* sink = sink_owner.get();
  auto channel = EmbeddedChannel::create([&sink_owner](Pipeline& pipeline) {
    pipeline.add_last("http", std::make_unique<HttpRequestDecoder>());
    pipeline.add_last("sink", std::move(sink_owner));
  });
  for (auto _ : state) {
    channel->write_inbound(bytes.share());
  }
  const auto expected = static_cast<std::uint64_t>(state.iterations()) * batch;
  if (sink->requests != expected || sink->completed != expected) {
    state.SkipWithError("the decoder did not produce every request");
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * reads.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(expected));
  state.SetLabel(std::to_string(request.size()) + " B");
  channel->finish();
}

// ------------------------------------------------------------------------------------------
// nodejs/http-parser: the spans recorded by callbacks.

struct Span {
  const char* at;
  std::size_t length;
};

struct HttpParserRecord {
  Span url{};
  std::vector<std::array<Span, 2>> fields;  // capacity kept from one request to the next
  bool headers_complete = false;
  bool message_complete = false;
};

HttpParserRecord& record_of(http_parser* parser) {
  return *static_cast<HttpParserRecord*>(parser->data);
}

// A name or value may come in several callbacks when the bytes are split; extend the span then.
int on_url(http_parser* parser, const char* at, std::size_t length) {
  Span& url = record_of(parser).url;
  if (url.at == nullptr)
    url = {at, length};
  else
    url.length += length;
  return 0;
}

int on_header_field(http_parser* parser, const char* at, std::size_t length) {
  auto& fields = record_of(parser).fields;
  if (!fields.empty() && fields.back()[1].at == nullptr) {
    fields.back()[0].length += length;
  } else {
    fields.push_back({Span{at, length}, Span{}});
  }
  return 0;
}

int on_header_value(http_parser* parser, const char* at, std::size_t length) {
  Span& value = record_of(parser).fields.back()[1];
  if (value.at == nullptr)
    value = {at, length};
  else
    value.length += length;
  return 0;
}

int on_headers_complete(http_parser* parser) {
  record_of(parser).headers_complete = true;
  return 0;
}

int on_message_complete(http_parser* parser) {
  record_of(parser).message_complete = true;
  return 0;
}

http_parser_settings make_settings() {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_url = on_url;
  settings.on_header_field = on_header_field;
  settings.on_header_value = on_header_value;
  settings.on_headers_complete = on_headers_complete;
  settings.on_message_complete = on_message_complete;
  return settings;
}

void HttpParser(benchmark::State& state) {
  const std::string_view request = input(static_cast<int>(state.range(0)));
  const Buffer bytes = Buffer::copy_of(request);
  const auto* data = reinterpret_cast<const char*>(bytes.readable_span().data());
  const http_parser_settings settings = make_settings();
  HttpParserRecord record;
  http_parser parser;
  for (auto _ : state) {
    record.url = {};
    record.fields.clear();
    record.headers_complete = record.message_complete = false;
    http_parser_init(&parser, HTTP_REQUEST);
    parser.data = &record;
    const std::size_t parsed = http_parser_execute(&parser, &settings, data, request.size());
    if (parsed != request.size() || !record.message_complete ||
        HTTP_PARSER_ERRNO(&parser) != HPE_OK) {
      state.SkipWithError("http-parser did not parse the request");
      break;
    }
    const int keep_alive = http_should_keep_alive(&parser);
    benchmark::DoNotOptimize(keep_alive);
    benchmark::DoNotOptimize(record);
  }
  report(state, request);
}

// Both parsers must agree on the inputs before anything is timed.
void check_inputs() {
  for (int which : {0, 1}) {
    const std::string_view request = input(which);
    HttpHeadParser parser{HttpLimits{}};
    const auto outcome =
        parser.parse_request(std::as_bytes(std::span(request.data(), request.size())));
    if (outcome != HttpHeadParser::Outcome::kComplete || parser.length() != request.size()) {
      throw std::runtime_error("sluice does not parse input " + std::to_string(which));
    }
    const http_parser_settings settings = make_settings();
    HttpParserRecord record;
    http_parser hp;
    http_parser_init(&hp, HTTP_REQUEST);
    hp.data = &record;
    http_parser_execute(&hp, &settings, request.data(), request.size());
    if (!record.message_complete || record.fields.size() != parser.fields().size()) {
      throw std::runtime_error("http-parser and sluice disagree on input " + std::to_string(which));
    }
    for (std::size_t i = 0; i < record.fields.size(); ++i) {
      const FieldRef& ref = parser.fields()[i];
      if (std::string_view(record.fields[i][0].at, record.fields[i][0].length) !=
              request.substr(ref.name_offset, ref.name_length) ||
          std::string_view(record.fields[i][1].at, record.fields[i][1].length) !=
              request.substr(ref.value_offset, ref.value_length)) {
        throw std::runtime_error("field " + std::to_string(i) + " differs");
      }
    }
  }
}

void Args(benchmark::internal::Benchmark* b) {
  b->ArgName("input");
  b->Arg(0);  // browser GET
  b->Arg(1);  // 20 field lines
}

BENCHMARK(Sluice_HeadParser)->Apply(Args);
BENCHMARK(Sluice_Decoder)->ArgNames({"input", "batch"})->ArgsProduct({{0, 1}, {1, 16}});
BENCHMARK(HttpParser)->Apply(Args);

}  // namespace

int main(int argc, char** argv) {
  check_inputs();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
