#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::examples {

// The file-system path a request-target names, made safe to look up beneath the root:
// percent-decoded once, split into segments, "." and ".." resolved, empty segments dropped.
// No segment is empty, ".", "..", or contains '/' or NUL.
struct RequestPath {
  std::vector<std::string> segments;
  // The path ends in '/' (or in a "." or ".." segment, which resolve to a directory, RFC 3986
  // §5.2.4): it names a directory.
  bool directory_form = false;
  // The path as sent ends in '/'. A directory is served only at such a URL, the one its page's
  // relative links resolve against: "/a/b/.." names directory "a" but its links would resolve
  // beneath "/a/b/".
  bool slash_terminated = false;
  // The query, without its '?', as received (it plays no part in the lookup).
  std::string query;

  // "a/b/c", or "." for the root: what openat2 is given relative to the root.
  std::string relative() const;
  // "/a/b/c" (plus "/" when `trailing_slash`), each segment percent-encoded again: a path
  // safe to put in a Location field or a link.
  std::string encoded(bool trailing_slash) const;
  // "/a/b/c/", decoded, for display (escape it before putting it in HTML).
  std::string display() const;
};

// Why a target was refused.
enum class PathError : std::uint8_t {
  kNone,
  kBadRequest,  // not origin-form or absolute-form, or a malformed %-escape: 400
  kForbidden,   // ".." above the root, an encoded NUL, an encoded '/': 403
};

struct ParsedPath {
  RequestPath path;
  PathError error = PathError::kNone;
};

// Parses the request-target of a GET or HEAD (origin-form, or absolute-form, RFC 9112 §3.2).
ParsedPath parse_request_path(std::string_view target);

// Percent-encodes every octet but the unreserved characters (RFC 3986 §2.3), so the result
// is one path segment whatever the name holds ('/', '?', '#', ':', spaces, controls).
std::string percent_encode_segment(std::string_view segment);

}  // namespace sluice::examples
