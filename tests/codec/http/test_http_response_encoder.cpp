#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdlib>
#include <ctime>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "codec_test_support.hpp"
#include "field_value_octets.hpp"
#include "sluice/buffer/file_region.hpp"
#include "sluice/buffer/mapped_region.hpp"
#include "sluice/channel/channel_error.hpp"
#include "sluice/codec/codec_error.hpp"
#include "sluice/codec/http/http_date.hpp"
#include "sluice/codec/http/http_header.hpp"
#include "sluice/codec/http/http_response.hpp"
#include "sluice/codec/http/http_response_encoder.hpp"

using namespace sluice;
using namespace sluice::http;
using sluice::test::bytes;
using sluice::test::text_of;

namespace {

const std::regex kImfFixdate(
    "(Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    "[0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT");

Ref<EmbeddedChannel> encoder_channel() {
  return EmbeddedChannel::create(
      [](Pipeline& p) { p.add_last("encoder", std::make_unique<HttpResponseEncoder>()); });
}

// The text with its one Date line checked (IMF-fixdate) and replaced by "Date: <date>".
std::string without_date(const std::string& text) {
  const auto start = text.find("\r\nDate: ");
  if (start == std::string::npos) return text;
  const auto value = start + 8;
  const auto end = text.find("\r\n", value);
  const std::string date = text.substr(value, end - value);
  CHECK(std::regex_match(date, kImfFixdate));
  CHECK(text.find("\r\nDate: ", end) == std::string::npos);  // only one
  return text.substr(0, value) + "<date>" + text.substr(end);
}

std::vector<Message> written(EmbeddedChannel& channel) {
  std::vector<Message> messages;
  for (Message m = channel.read_outbound(); m; m = channel.read_outbound()) {
    messages.push_back(std::move(m));
  }
  return messages;
}

std::string joined(const std::vector<Message>& messages) {
  std::string text;
  for (const Message& m : messages)
    text += text_of(m);
  return text;
}

std::shared_ptr<const File> some_file() {
  // The encoder never reads the file: a region of it must pass through as it is.
  return std::make_shared<const File>(Fd(), "/virtual/file", 1 << 20);
}

}  // namespace

TEST_CASE("a whole response is one head buffer, byte exact, then its body buffer untouched") {
  auto channel = encoder_channel();
  const std::string payload(200, 'x');  // over the size that rides inside the head
  Buffer body = bytes(payload);
  const std::byte* body_data = body.readable_span().data();
  channel->write_outbound(HttpResponse(200)
                              .header("Content-Type", "text/plain; charset=utf-8")
                              .header("X-Second", "two")
                              .header("X-Second", "again")
                              .body(std::move(body)));
  auto messages = written(*channel);
  REQUIRE(messages.size() == 2);
  REQUIRE(messages[0].is<Buffer>());
  CHECK(without_date(text_of(messages[0])) ==
        "HTTP/1.1 200 OK\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "X-Second: two\r\n"
        "X-Second: again\r\n"
        "Content-Length: 200\r\n"
        "Date: <date>\r\n"
        "\r\n");
  REQUIRE(messages[1].is<Buffer>());
  CHECK(messages[1].as<Buffer>().readable_span().data() == body_data);
}

TEST_CASE("a body of a few bytes travels inside the head's buffer: one message, one iovec") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(200).header("Server", "sluice").body(bytes("hello")));
  auto messages = written(*channel);
  REQUIRE(messages.size() == 1);
  CHECK(without_date(text_of(messages[0])) ==
        "HTTP/1.1 200 OK\r\n"
        "Server: sluice\r\n"
        "Content-Length: 5\r\n"
        "Date: <date>\r\n"
        "\r\n"
        "hello");
}

TEST_CASE(
    "a small body mapped from a file stays out of user space: it is not copied into the head") {
  char path[] = "/tmp/sluice-mapped-body-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, "hello", 5) == 5);
  ::close(fd);
  auto file = File::open(path);
  ::unlink(path);
  REQUIRE(file);
  auto mapped = map_file_region(**file, 0, 5);
  REQUIRE(mapped);
  CHECK(mapped->is_external());
  CHECK_FALSE(bytes("hello").is_external());

  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(200).body(std::move(*mapped)));
  auto messages = written(*channel);
  REQUIRE(messages.size() == 2);
  CHECK(messages[1].as<Buffer>().is_external());
  CHECK(text_of(messages[1]) == "hello");
}

TEST_CASE("status lines: three digits and the reason phrase; other codes are refused") {
  CHECK(HttpResponse(404).head_text() == "HTTP/1.1 404 Not Found\r\n");
  // A proxy's refusal of a tunnel it has not been authorised for (RFC 9110 §15.5.8).
  CHECK(HttpResponse(407).head_text() == "HTTP/1.1 407 Proxy Authentication Required\r\n");
  CHECK(HttpResponse(599).head_text().substr(0, 13) == "HTTP/1.1 599 ");
  CHECK_THROWS_AS(HttpResponse(99), std::out_of_range);
  CHECK_THROWS_AS(HttpResponse(1000), std::out_of_range);
}

TEST_CASE("the Date header is the current time as an IMF-fixdate") {
  const std::string date(http_date_now());
  REQUIRE(std::regex_match(date, kImfFixdate));
  std::tm parsed{};
  REQUIRE(strptime(date.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed) != nullptr);
  const std::time_t when = timegm(&parsed);
  const std::time_t now = std::time(nullptr);
  CHECK(when <= now);
  CHECK(now - when < 60);  // generous: only "now", not a fixed or local time
}

TEST_CASE("a Date header set by the application is kept and not repeated") {
  auto channel = encoder_channel();
  channel->write_outbound(
      HttpResponse(200).header("Date", "Sun, 06 Nov 1994 08:49:37 GMT").body(bytes("")));
  CHECK(test::outbound_text(*channel) ==
        "HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nContent-Length: 0\r\n\r\n");
}

TEST_CASE("an empty body is a Content-Length of 0") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(404).content_length(0));
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nDate: <date>\r\n\r\n");
}

TEST_CASE("a streamed body without a length is chunked, its pieces untouched, ended by HttpEnd") {
  auto channel = encoder_channel();
  Buffer first = bytes("hello");
  Buffer second = bytes(" chunked world");
  const std::byte* first_data = first.readable_span().data();
  const std::byte* second_data = second.readable_span().data();
  channel->write_outbound(HttpResponse(200).header("Content-Type", "text/plain").streamed(),
                          std::move(first), Buffer(), std::move(second), HttpEnd{});
  const auto messages = written(*channel);
  CHECK(without_date(joined(messages)) ==
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n"
        "Date: <date>\r\n\r\n"
        "5\r\nhello\r\n"
        "e\r\n chunked world\r\n"
        "0\r\n\r\n");
  int untouched = 0;
  for (const Message& m : messages) {
    if (const auto* buffer = m.get_if<Buffer>()) {
      const auto* data = buffer->readable_span().data();
      untouched += (data == first_data) + (data == second_data);
    }
  }
  CHECK(untouched == 2);
}

TEST_CASE("HttpEnd right after a chunked head is an empty chunked body") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(200).streamed(), HttpEnd{});
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n0\r\n\r\n");
}

TEST_CASE("HttpEnd's trailer fields follow the last chunk of a chunked body") {
  // RFC 9112 §7.1.2: last-chunk, then the trailer section, then the empty line.
  auto channel = encoder_channel();
  channel->write_outbound(
      HttpResponse(200).streamed(), bytes("abc"),
      HttpEnd().trailer("Checksum-Sha256", "q1w2e3").trailer("Server-Timing", "db;dur=53"));
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
        "3\r\nabc\r\n"
        "0\r\nChecksum-Sha256: q1w2e3\r\nServer-Timing: db;dur=53\r\n\r\n");

  auto empty_body = encoder_channel();
  empty_body->write_outbound(HttpResponse(200).streamed(), HttpEnd().trailer("X-Result", "0"));
  CHECK(without_date(test::outbound_text(*empty_body)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
        "0\r\nX-Result: 0\r\n\r\n");
}

TEST_CASE("trailer fields after a body framed by Content-Length are dropped") {
  // No place for them: anything after the announced length is read as the next response.
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(200).content_length(3), bytes("abc"),
                          HttpEnd().trailer("X-Result", "0"));
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: <date>\r\n\r\nabc");
}

TEST_CASE("fields a client needs before the content cannot be trailers") {
  // RFC 9110 §6.5.1: framing, routing, the connection and the content's format.
  for (const char* name :
       {"Content-Length", "transfer-encoding", "Connection", "Keep-Alive", "TE", "Trailer",
        "Upgrade", "HOST", "Content-Type", "Content-Encoding", "Content-Range"}) {
    CAPTURE(name);
    HttpEnd end;
    CHECK_THROWS_AS(end.trailer(HeaderName::of(name), HeaderValue::of("1")), InvalidHeaderError);
    CHECK_FALSE(end.has_trailers());
  }
  HttpEnd end;
  end.trailer("Content-MD5", "Q2hlY2sgSW50ZWdyaXR5IQ==");
  CHECK(end.trailer_text() == "Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==\r\n");
}

TEST_CASE("a streamed body with a Content-Length passes through untouched, FileRegion included") {
  auto channel = encoder_channel();
  auto file = some_file();
  Buffer tail = bytes("tail");
  const std::byte* tail_data = tail.readable_span().data();
  channel->write_outbound(HttpResponse(200).content_length(104), FileRegion(file, 4096, 100),
                          std::move(tail), HttpEnd{});
  auto messages = written(*channel);
  REQUIRE(messages.size() >= 3);
  CHECK(without_date(text_of(messages[0])) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 104\r\nDate: <date>\r\n\r\n");
  REQUIRE(messages[1].is<FileRegion>());
  const auto& region = messages[1].as<FileRegion>();
  CHECK(&region.file() == file.get());
  CHECK(region.offset() == 4096);
  CHECK(region.count() == 100);
  CHECK(region.transferred() == 0);
  REQUIRE(messages[2].is<Buffer>());
  CHECK(messages[2].as<Buffer>().readable_span().data() == tail_data);
  for (std::size_t i = 3; i < messages.size(); ++i)
    CHECK(messages[i].bytes() == 0);
}

TEST_CASE("a FileRegion in a chunked body gets a size line and passes untouched") {
  auto channel = encoder_channel();
  auto file = some_file();
  channel->write_outbound(HttpResponse(200).streamed(), FileRegion(file, 0, 300), HttpEnd{});
  auto messages = written(*channel);
  std::string text;
  bool region_seen = false;
  for (const Message& m : messages) {
    if (const auto* region = m.get_if<FileRegion>()) {
      region_seen = &region->file() == file.get() && region->count() == 300;
      text += "<region>";
    } else {
      text += text_of(m);
    }
  }
  CHECK(region_seen);
  CHECK(without_date(text) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
        "12c\r\n<region>\r\n0\r\n\r\n");
}

TEST_CASE("1xx responses but 101 are the status line and an empty line, nothing else") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(100));
  CHECK(test::outbound_text(*channel) == "HTTP/1.1 100 Continue\r\n\r\n");
}

TEST_CASE("a 101 names upgrade among its Connection options, which the application cannot set") {
  // RFC 9110 §7.8: Upgrade is hop-by-hop; RFC 6455 §4.1: a WebSocket client fails the
  // handshake without "Connection: Upgrade".
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(101).header("Upgrade", "websocket"));
  CHECK(test::outbound_text(*channel) ==
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n");
  CHECK_THROWS_AS(HttpResponse(101).header("Connection", "upgrade"), InvalidHeaderError);
}

TEST_CASE("any response with an Upgrade field names upgrade among its Connection options") {
  // RFC 9110 §7.8: a 426 must carry Upgrade, and a sender of Upgrade must name it in
  // Connection, which only the encoder may write.
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(426).header("Upgrade", "websocket"));
  const std::string upgrade_required = without_date(test::outbound_text(*channel));
  CHECK(upgrade_required.rfind("HTTP/1.1 426 ", 0) == 0);
  CHECK(upgrade_required.substr(upgrade_required.find("\r\n")) ==
        "\r\nUpgrade: websocket\r\nContent-Length: 0\r\nDate: <date>\r\n"
        "Connection: upgrade\r\n\r\n");
  channel->write_outbound(HttpResponse(200).header("upgrade", "h2c").close_connection());
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nupgrade: h2c\r\nContent-Length: 0\r\nDate: <date>\r\n"
        "Connection: close, upgrade\r\n\r\n");
}

TEST_CASE("204 and 304 responses carry no body; a 304 keeps its Content-Length") {
  auto no_content = encoder_channel();
  no_content->write_outbound(HttpResponse(204).body(bytes("ignored")));
  CHECK(without_date(test::outbound_text(*no_content)) ==
        "HTTP/1.1 204 No Content\r\nDate: <date>\r\n\r\n");
  auto not_modified = encoder_channel();
  not_modified->write_outbound(HttpResponse(304).content_length(1234));
  CHECK(without_date(test::outbound_text(*not_modified)) ==
        "HTTP/1.1 304 Not Modified\r\nContent-Length: 1234\r\nDate: <date>\r\n\r\n");
  // Neither started a streamed body: what follows is a new response.
  not_modified->write_outbound(HttpResponse(200).body(bytes("x")));
  CHECK(without_date(test::outbound_text(*not_modified)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nDate: <date>\r\n\r\nx");
}

TEST_CASE("close_connection adds Connection: close") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(503).close_connection().body(bytes("busy")));
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\nDate: <date>\r\n"
        "Connection: close\r\n\r\nbusy");
}

TEST_CASE("a status without a registered phrase is sent as Unknown") {
  auto channel = encoder_channel();
  channel->write_outbound(HttpResponse(599).body(bytes("")));
  CHECK(test::outbound_text(*channel).rfind("HTTP/1.1 599 Unknown\r\n", 0) == 0);
}

TEST_CASE("write callbacks complete once their part of the response is written") {
  auto channel = encoder_channel();
  std::vector<std::string> done;
  auto record = [&](std::string name) {
    return [&done, name](const Error& error) { done.push_back(name + (error ? " failed" : "")); };
  };
  channel->pipeline().write(HttpResponse(200).body(bytes("whole")), record("whole"));
  channel->pipeline().write(HttpResponse(200).streamed(), record("head"));
  channel->pipeline().write(bytes("piece"), record("piece"));
  channel->pipeline().write(Buffer(), record("empty piece"));
  channel->pipeline().write(HttpEnd{}, record("end"));
  channel->pipeline().flush();
  CHECK(done == std::vector<std::string>{"whole", "head", "piece", "empty piece", "end"});
}

TEST_CASE("a chunked body part that is not bytes fails its write instead of vanishing") {
  auto channel = encoder_channel();
  std::vector<std::string> done;
  auto record = [&](std::string name) {
    return [&done, name](const Error& error) {
      const bool unsupported = error == ChannelErrc::unsupported_message;
      done.push_back(name + (unsupported ? " unsupported" : error ? " failed" : ""));
    };
  };
  channel->pipeline().write(HttpResponse(200).streamed(), record("head"));
  channel->pipeline().write(std::string("not bytes"), record("string"));
  channel->pipeline().flush();
  // The refused part fails at once; the head completes when flushed.
  CHECK(done == std::vector<std::string>{"string unsupported", "head"});
  CHECK(test::outbound_text(*channel).find("not bytes") == std::string::npos);
}

TEST_CASE("a response written before the one before it ended fails instead of going out") {
  // A head inside a chunked body would be read as body bytes.
  auto channel = encoder_channel();
  std::vector<Error> results;
  channel->pipeline().write(HttpResponse(200).streamed());
  channel->pipeline().write(bytes("piece"));
  channel->pipeline().write(HttpResponse(200).body(bytes("next")),
                            [&](const Error& error) { results.push_back(error); });
  channel->pipeline().write(HttpEnd{});
  channel->pipeline().flush();
  REQUIRE(results.size() == 1);
  CHECK(results[0].code() == CodecErrc::body_length_mismatch);
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nDate: <date>\r\n\r\n"
        "5\r\npiece\r\n0\r\n\r\n");
}

TEST_CASE("an end short of the Content-Length fails and leaves the response open") {
  // The client still waits for the missing bytes: a next head sent now would be read as them.
  auto channel = encoder_channel();
  std::vector<std::string> done;
  auto record = [&](std::string name) {
    return [&done, name](const Error& error) {
      const bool mismatch = error.code() == CodecErrc::body_length_mismatch;
      done.push_back(name + (mismatch ? " mismatch" : error ? " failed" : ""));
    };
  };
  channel->pipeline().write(HttpResponse(200).content_length(5), record("head"));
  channel->pipeline().write(bytes("abc"), record("abc"));
  channel->pipeline().write(HttpEnd{}, record("short end"));
  channel->pipeline().write(HttpResponse(200).body(bytes("next")), record("next"));
  channel->pipeline().write(bytes("de"), record("de"));
  channel->pipeline().write(HttpEnd{}, record("end"));
  channel->pipeline().flush();
  channel->take_errors();
  CHECK(done == std::vector<std::string>{"short end mismatch", "next mismatch", "head", "abc", "de",
                                         "end"});
  CHECK(without_date(test::outbound_text(*channel)) ==
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDate: <date>\r\n\r\nabcde");
}

TEST_CASE("buffers written outside a response pass through untouched") {
  auto channel = encoder_channel();
  Buffer raw = bytes("raw bytes");
  const std::byte* data = raw.readable_span().data();
  channel->write_outbound(std::move(raw));
  Message out = channel->read_outbound();
  REQUIRE(out.is<Buffer>());
  CHECK(out.as<Buffer>().readable_span().data() == data);
}

TEST_CASE("runtime header values with CR, LF, NUL or other controls throw InvalidHeaderError") {
  CHECK_THROWS_AS(HeaderValue::of("a\r\nX-Injected: 1"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderValue::of("a\rb"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderValue::of("a\nb"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderValue::of(std::string_view("a\0b", 3)), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderValue::of("\x7f"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderValue::of("\x1b[31m"), InvalidHeaderError);
  CHECK(HeaderValue::of("tab\tinside, obs-text \xC3\xBC").view() ==
        "tab\tinside, obs-text \xC3\xBC");
  CHECK(HeaderValue::of("").view().empty());
  CHECK(HeaderValue::of(std::uint64_t{1234}).view() == "1234");
}

TEST_CASE("every octet at every position of a runtime header value is judged alike") {
  // Values are checked eight octets at a time, then the tail octet by octet.
  test::check_every_field_value_octet(
      [](const std::string& value) {
        try {
          return HeaderValue::of(value).view() == value;
        } catch (const InvalidHeaderError&) {
          return false;
        }
      },
      true);
}

TEST_CASE("runtime header values keep their bytes through copies and moves, short or long") {
  // Up to kInlineCapacity bytes live inside the object, longer ones on the heap: both must
  // survive the object moving away from where it was made.
  for (const std::size_t size : {std::size_t{0}, std::size_t{1}, HeaderValue::kInlineCapacity,
                                 HeaderValue::kInlineCapacity + 1, std::size_t{4096}}) {
    CAPTURE(size);
    std::string text(size, 'v');
    for (std::size_t i = 0; i < size; ++i)
      text[i] = static_cast<char>('a' + i % 26);
    auto original = std::make_unique<HeaderValue>(HeaderValue::of(text));
    text.assign(size, 'x');  // the source is gone: the value holds its own copy
    std::string expected(size, '\0');
    for (std::size_t i = 0; i < size; ++i)
      expected[i] = static_cast<char>('a' + i % 26);
    const HeaderValue copy = *original;
    HeaderValue moved = std::move(*original);
    original.reset();
    CHECK(copy.view() == expected);
    CHECK(moved.view() == expected);
    if (size != 0 && size <= HeaderValue::kInlineCapacity) {
      // Inline: the view is into the object itself, not into the one it came from.
      const auto* begin = reinterpret_cast<const char*>(&moved);
      CHECK(moved.view().data() >= begin);
      CHECK(moved.view().data() + size <= begin + sizeof moved);
    }
    HttpResponse response(200);
    response.header("X-Value", moved);
    CHECK(response.head_text().find("X-Value: " + expected + "\r\n") != std::string::npos);
  }
}

TEST_CASE("runtime header names that are not tokens throw InvalidHeaderError") {
  CHECK_THROWS_AS(HeaderName::of(""), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderName::of("X Space"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderName::of("X:Colon"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderName::of("X\r\nInjected"), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderName::of(std::string_view("X\0", 2)), InvalidHeaderError);
  CHECK_THROWS_AS(HeaderName::of("X-\xC3\xBC"), InvalidHeaderError);
  CHECK(HeaderName::of("X-Custom_Name.1~").view() == "X-Custom_Name.1~");
}

TEST_CASE("validated runtime names and values go into the head as given") {
  std::string name = "X-Request";
  std::string value = "id-42";
  const HeaderName checked_name = HeaderName::of(name);
  const HeaderValue checked_value = HeaderValue::of(value);
  name.assign("overwritten");  // the checked copies do not depend on the originals
  value.assign("overwritten");
  HttpResponse response(200);
  response.header(checked_name, checked_value);
  CHECK(response.head_text() == "HTTP/1.1 200 OK\r\nX-Request: id-42\r\n");
}
