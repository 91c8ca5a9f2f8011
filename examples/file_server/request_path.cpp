#include "request_path.hpp"

#include <optional>

namespace sluice::examples {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes once (RFC 3986 §2.1). Decoding once matters: a second pass would turn
// "%252e%252e" into "..", the double-decoding traversal of CVE-2001-0333.
std::optional<std::string> percent_decode(std::string_view raw) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      out.push_back(raw[i]);
      continue;
    }
    if (i + 2 >= raw.size()) return std::nullopt;  // '%' needs two hex digits after it
    const int high = hex_value(raw[i + 1]);
    const int low = hex_value(raw[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    out.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return out;
}

bool starts_with_ignore_case(std::string_view text, std::string_view prefix) noexcept {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

std::string RequestPath::relative() const {
  if (segments.empty()) return ".";
  std::string out;
  for (const std::string& segment : segments) {
    if (!out.empty()) out.push_back('/');
    out += segment;
  }
  return out;
}

std::string RequestPath::encoded(bool trailing_slash) const {
  std::string out;
  for (const std::string& segment : segments) {
    out.push_back('/');
    out += percent_encode_segment(segment);
  }
  if (trailing_slash || out.empty()) out.push_back('/');
  return out;
}

std::string RequestPath::display() const {
  std::string out = "/";
  for (const std::string& segment : segments) {
    out += segment;
    out.push_back('/');
  }
  return out;
}

ParsedPath parse_request_path(std::string_view target) {
  ParsedPath result;
  std::string_view path = target;
  if (path.empty()) {
    result.error = PathError::kBadRequest;
    return result;
  }
  if (path.front() != '/') {
    // RFC 9112 §3.2.2: a server must accept the absolute-form; the authority plays no part in
    // the lookup (one root serves every host name).
    std::size_t scheme = 0;
    if (starts_with_ignore_case(path, "http://")) {
      scheme = 7;
    } else if (starts_with_ignore_case(path, "https://")) {
      scheme = 8;
    } else {
      // The asterisk-form is for OPTIONS only and the authority-form for CONNECT
      // (RFC 9112 §3.2.3-4): neither names a file.
      result.error = PathError::kBadRequest;
      return result;
    }
    path.remove_prefix(scheme);
    const std::size_t end = path.find_first_of("/?");
    path = end == std::string_view::npos ? std::string_view("/") : path.substr(end);
    if (path.front() == '?') {
      result.path.query = std::string(path.substr(1));
      path = "/";
    }
  }
  if (const std::size_t question = path.find('?'); question != std::string_view::npos) {
    result.path.query = std::string(path.substr(question + 1));
    path = path.substr(0, question);
  }
  // A request-target carries no fragment (RFC 9112 §3.2); a raw '#' is malformed.
  if (path.find('#') != std::string_view::npos) {
    result.error = PathError::kBadRequest;
    return result;
  }

  result.path.slash_terminated = path.back() == '/';
  std::vector<std::string>& segments = result.path.segments;
  bool directory_form = true;  // "/" alone names the root directory
  std::size_t start = 1;       // past the leading '/'
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view raw = path.substr(start, slash - start);
    start = slash + 1;
    auto decoded = percent_decode(raw);
    if (!decoded) {
      result.error = PathError::kBadRequest;
      return result;
    }
    // An encoded NUL would cut the name short in a C string; an encoded '/' ("%2f") would
    // let one segment name a path, slipping ".." or a sub-directory past normalisation.
    if (decoded->find('\0') != std::string::npos || decoded->find('/') != std::string::npos) {
      result.error = PathError::kForbidden;
      return result;
    }
    if (decoded->empty() || *decoded == ".") {
      // Repeated slashes and "." segments name the same directory (RFC 3986 §5.2.4).
      directory_form = true;
      continue;
    }
    if (*decoded == "..") {
      // ".." above the root is refused rather than clamped to the root: it is an attempt to
      // leave the served tree, not a link a page would contain.
      if (segments.empty()) {
        result.error = PathError::kForbidden;
        return result;
      }
      segments.pop_back();
      directory_form = true;
      continue;
    }
    segments.push_back(std::move(*decoded));
    directory_form = false;
  }
  result.path.directory_form = directory_form;
  return result;
}

std::string percent_encode_segment(std::string_view segment) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(segment.size());
  for (const char c : segment) {
    const auto u = static_cast<unsigned char>(c);
    const bool unreserved = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') ||
                            (u >= '0' && u <= '9') || u == '-' || u == '.' || u == '_' || u == '~';
    if (unreserved) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 0xF]);
    }
  }
  return out;
}

}  // namespace sluice::examples
