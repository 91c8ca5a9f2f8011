#include "sluice/codec/http/request_framing.hpp"

#include <optional>

#include "char_classes.hpp"
#include "sluice/codec/http/http_status.hpp"

namespace sluice::http {
namespace {

constexpr std::string_view kContentLength = "content-length";
constexpr std::string_view kTransferEncoding = "transfer-encoding";
constexpr std::string_view kConnection = "connection";
constexpr std::string_view kExpect = "expect";
constexpr std::string_view kHost = "host";
constexpr std::string_view kUpgrade = "upgrade";

RequestFraming refused(std::uint16_t status, const char* why) noexcept {
  RequestFraming framing;
  framing.error_status = status;
  framing.error = why;
  return framing;
}

// A received field name against one of the lower-case names above. The name is a token (the
// head parser refused anything else), and OR-ing 0x20 folds A-Z onto a-z while no other token
// octet lands on a letter or on '-' (only CR does, never in a token): one comparison per octet
// is exact. This runs for every field of every request.
bool is_named(std::string_view token, std::string_view lower_case) noexcept {
  for (std::size_t i = 0; i < lower_case.size(); ++i) {
    if ((token[i] | 0x20) != lower_case[i]) return false;
  }
  return true;
}

// Host = uri-host [ ":" port ] (RFC 9110 §7.2); empty is allowed (a target without authority).
// Anything else (userinfo, a path, spaces) is refused: proxies and virtual hosts disagree about
// what such a value means.
bool is_valid_host(std::string_view value) noexcept {
  std::size_t i = detail::uri_host_end(value);
  if (i == detail::kNoUriHost) return false;
  if (i == value.size()) return true;
  if (value[i] != ':') return false;
  for (++i; i < value.size(); ++i) {
    if (value[i] < '0' || value[i] > '9') return false;
  }
  return true;
}

}  // namespace

// Every rule here closes a request-smuggling door.
RequestFraming decide_request_framing(const HttpFields& headers, int version_minor) noexcept {
  RequestFraming framing;
  bool has_transfer_encoding = false;
  bool chunked_last = false;
  int chunked_count = 0;
  bool other_coding = false;
  std::size_t content_length_lines = 0;
  std::string_view content_length;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  bool upgrade_offered = false;
  std::optional<std::string_view> expect;
  // One pass over the fields, each name compared only with the framing name of its length:
  // this runs for every request.
  for (const Field field : headers) {
    switch (field.name.size()) {
      case kContentLength.size():
        if (is_named(field.name, kContentLength)) {
          ++content_length_lines;
          content_length = field.value;
        }
        break;
      case kTransferEncoding.size():
        if (!is_named(field.name, kTransferEncoding)) break;
        has_transfer_encoding = true;
        // The codings of every Transfer-Encoding line form one list (RFC 9110 §5.3).
        for_each_list_element(field.value, [&](std::string_view coding) {
          const bool is_chunked = equals_ignore_case(coding, "chunked");
          chunked_count += is_chunked;
          if (!is_chunked) other_coding = true;
          chunked_last = is_chunked;
        });
        break;
      case kConnection.size():
        if (!is_named(field.name, kConnection)) break;
        for_each_list_element(field.value, [&](std::string_view option) {
          connection_close = connection_close || equals_ignore_case(option, "close");
          connection_keep_alive = connection_keep_alive || equals_ignore_case(option, "keep-alive");
          connection_upgrade = connection_upgrade || equals_ignore_case(option, kUpgrade);
        });
        break;
      case kUpgrade.size():
        // An Upgrade field that lists no protocol offers nothing to switch to.
        if (!upgrade_offered && is_named(field.name, kUpgrade)) {
          for_each_list_element(field.value, [&](std::string_view) { upgrade_offered = true; });
        }
        break;
      case kExpect.size():
        if (!expect && is_named(field.name, kExpect)) expect = field.value;
        break;
      case kHost.size():
        if (is_named(field.name, kHost)) {
          ++framing.host_lines;
          framing.host_valid = framing.host_valid && is_valid_host(field.value);
        }
        break;
      default:
        break;
    }
  }
  if (has_transfer_encoding) {
    if (content_length_lines != 0) {
      return refused(status::kBadRequest, "Content-Length with Transfer-Encoding");
    }
    if (version_minor == 0) {
      return refused(status::kBadRequest, "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (!chunked_last || chunked_count != 1) {
      return refused(status::kBadRequest, "chunked is not the final transfer coding");
    }
    if (other_coding) return refused(status::kNotImplemented, "unsupported transfer coding");
    framing.chunked = true;
  } else if (content_length_lines > 1) {
    return refused(status::kBadRequest, "more than one Content-Length");
  } else if (content_length_lines == 1) {
    if (content_length.empty()) return refused(status::kBadRequest, "invalid Content-Length");
    std::uint64_t length = 0;
    for (char digit : content_length) {
      if (digit < '0' || digit > '9') {
        return refused(status::kBadRequest, "invalid Content-Length");
      }
      const auto d = static_cast<std::uint64_t>(digit - '0');
      if (length > (UINT64_MAX - d) / 10) {
        return refused(status::kBadRequest, "Content-Length overflows");
      }
      length = length * 10 + d;
    }
    framing.has_content_length = true;
    framing.content_length = length;
  }
  // RFC 9112 §9.3: the close option ends the connection whatever the version; otherwise
  // HTTP/1.1 persists and HTTP/1.0 only with keep-alive.
  framing.keep_alive = !connection_close && (version_minor != 0 || connection_keep_alive);
  // RFC 9110 §7.8: an HTTP/1.0 request's Upgrade is ignored, and Upgrade is hop-by-hop, so
  // it counts only when named among the Connection options. A request that asks to close
  // ends the connection after its answer (RFC 9112 §9.6): nothing follows to switch.
  framing.upgrade =
      version_minor >= 1 && upgrade_offered && connection_upgrade && framing.keep_alive;
  if (version_minor >= 1 && expect) {
    framing.expects_continue = equals_ignore_case(*expect, "100-continue");
  }
  return framing;
}

}  // namespace sluice::http
