#include "sluice/codec/http/http_response.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "field_line.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {
namespace {

constexpr std::size_t kHeadCapacity = 256;

// The names header() checks, by length first: it runs for every header of every response.
constexpr std::string_view kContentLength = "Content-Length";
constexpr std::string_view kTransferEncoding = "Transfer-Encoding";
constexpr std::string_view kConnection = "Connection";
constexpr std::string_view kDate = "Date";
constexpr std::string_view kUpgrade = "Upgrade";

bool equals_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if ((a[i] | 0x20) != (b[i] | 0x20)) return false;
  }
  return true;
}

}  // namespace

HttpResponse::HttpResponse(std::uint16_t status)
    : head_(Buffer::allocate(kHeadCapacity)), status_(status) {
  // Written by hand rather than formatted: it is on every response's path.
  const std::string_view reason = reason_phrase(status);
  char line[16 + 64];
  std::memcpy(line, "HTTP/1.1 ", 9);
  // RFC 9110 §15: a status code is three digits.
  if (status < 100 || status > 999)
    throw std::out_of_range("HTTP status " + std::to_string(status) + " is not three digits");
  const unsigned code = status;
  line[9] = static_cast<char>('0' + code / 100);
  line[10] = static_cast<char>('0' + code / 10 % 10);
  line[11] = static_cast<char>('0' + code % 10);
  line[12] = ' ';
  const std::size_t reason_length = std::min(reason.size(), sizeof line - 15);
  std::memcpy(line + 13, reason.data(), reason_length);
  std::memcpy(line + 13 + reason_length, "\r\n", 2);
  head_.write_bytes(std::string_view(line, 15 + reason_length));
}

HttpResponse& HttpResponse::header(const HeaderName& name, const HeaderValue& value) & {
  const std::string_view n = name.view();
  const std::string_view v = value.view();
  switch (n.size()) {
    case kContentLength.size():
    case kTransferEncoding.size():
    case kConnection.size():
      // The encoder frames the message; a second, contradicting framing header from the
      // application is how responses get split or desynchronised.
      if (equals_name(n, kContentLength) || equals_name(n, kTransferEncoding) ||
          equals_name(n, kConnection)) {
        throw InvalidHeaderError(std::string(n) +
                                 " is set by the encoder: use body(), content_length(), "
                                 "streamed() or close_connection()");
      }
      break;
    case kDate.size():
      if (equals_name(n, kDate)) has_date_ = true;
      break;
    case kUpgrade.size():
      if (equals_name(n, kUpgrade)) has_upgrade_ = true;
      break;
    default:
      break;
  }
  detail::append_field_line(head_, n, v);
  return *this;
}

HttpResponse& HttpResponse::body(Buffer bytes) & {
  length_ = bytes.readable_bytes();
  body_ = std::move(bytes);
  has_body_ = true;
  has_length_ = true;
  return *this;
}

HttpResponse& HttpResponse::content_length(std::uint64_t length) & {
  if (has_body_ && length != length_) {
    // The head would announce one length and the body deliver another.
    throw std::invalid_argument(
        "content_length() differs from the size of the response's body(); body() sets it");
  }
  length_ = length;
  has_length_ = true;
  return *this;
}

HttpResponse& HttpResponse::streamed() & {
  streamed_ = true;
  return *this;
}

HttpResponse& HttpResponse::close_connection() & {
  close_ = true;
  return *this;
}

}  // namespace sluice::http
