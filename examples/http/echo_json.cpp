#include "echo_json.hpp"

#include "sluice/codec/string_codec.hpp"

namespace sluice::examples {
namespace {

// One octet as the code point of the same value (ISO-8859-1), escaped for JSON and encoded
// as UTF-8.
void append_octet(std::string& out, unsigned char c) {
  static constexpr char kHex[] = "0123456789abcdef";
  if (c == '"' || c == '\\') {
    out += '\\';
    out += static_cast<char>(c);
  } else if (c < 0x20 || c == 0x7f) {
    out += "\\u00";
    out += kHex[c >> 4];
    out += kHex[c & 0xf];
  } else if (c < 0x80) {
    out += static_cast<char>(c);
  } else {
    out += static_cast<char>(0xC0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3F));
  }
}

void append_octets(std::string& out, std::string_view octets) {
  out += '"';
  for (char c : octets)
    append_octet(out, static_cast<unsigned char>(c));
  out += '"';
}

// Text that is already valid UTF-8: only quotes, backslashes and controls need escaping.
void append_text(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x80) {
      out += c;
    } else {
      append_octet(out, u);
    }
  }
  out += '"';
}

void append_fields(std::string& out, const http::HttpFields& fields) {
  out += '[';
  bool first = true;
  for (const http::Field field : fields) {
    if (!first) out += ',';
    first = false;
    out += '[';
    append_octets(out, field.name);
    out += ',';
    append_octets(out, field.value);
    out += ']';
  }
  out += ']';
}

}  // namespace

std::string base64(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
    std::uint32_t word = 0;
    for (std::size_t k = 0; k < 3; ++k) {
      word = (word << 8) | (k < n ? static_cast<unsigned char>(bytes[i + k]) : 0u);
    }
    for (std::size_t k = 0; k < 4; ++k) {
      out += k <= n ? kAlphabet[(word >> (18 - 6 * k)) & 0x3f] : '=';
    }
  }
  return out;
}

std::string echo_json(const http::FullHttpRequest& request) {
  const http::HttpRequest& head = request.head;
  std::string body(request.body.readable_bytes(), '\0');
  request.body.get_bytes(0, std::as_writable_bytes(std::span(body)));
  std::string out = "{\"method\":";
  append_octets(out, head.method());
  out += ",\"target\":";
  append_octets(out, head.target());
  out += ",\"version\":";
  append_octets(out, head.version());
  out += ",\"headers\":";
  append_fields(out, head.headers());
  if (to_valid_utf8(body) == body) {
    out += ",\"body\":";
    append_text(out, body);
  } else {
    out += ",\"body_b64\":\"" + base64(body) + "\"";
  }
  if (head.chunked()) {
    out += ",\"trailers\":";
    append_fields(out, request.trailers);
  }
  out += '}';
  return out;
}

}  // namespace sluice::examples
