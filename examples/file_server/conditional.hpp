#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "sluice/codec/http/http_fields.hpp"

namespace sluice::examples {

// What a response says about the version of the file it carries, so that caches and resuming
// clients can ask "has it changed?" (RFC 9110 §8.8).
struct Validators {
  // A strong entity-tag, "<inode>-<size>-<mtime in ns>" in hex: it changes whenever the file
  // is replaced (new inode), resized or written (mtime), which is what makes it strong enough
  // for range requests (§8.8.3).
  std::string_view etag() const noexcept { return {etag_text, etag_length}; }
  char etag_text[1 + 3 * 16 + 2 + 1];  // quote, three 64-bit numbers in hex and two dashes, quote
  std::uint8_t etag_length = 0;
  std::int64_t last_modified = 0;  // seconds since the epoch
};

Validators validators_of(const struct stat& info, std::int64_t now);

// The outcome of a request's preconditions for a GET or HEAD (RFC 9110 §13.2.2).
enum class Precondition : std::uint8_t {
  kProceed,      // evaluate Range next
  kNotModified,  // 304
  kFailed,       // 412
};

// Evaluates If-Match, If-Unmodified-Since, If-None-Match and If-Modified-Since in the order
// RFC 9110 §13.2.2 gives, for a GET or HEAD of an existing file.
Precondition evaluate_preconditions(const http::HttpFields& headers, const Validators& current);

// The same for a representation with no validator at all (a directory listing): only "*" in
// If-Match or If-None-Match can name it (§13.1.1-2), and the date fields are ignored, there
// being no modification date to compare (§13.1.3-4).
Precondition evaluate_preconditions_without_validators(const http::HttpFields& headers);

// If-Range (RFC 9110 §13.1.5): true when the Range header may be honoured — the field is absent,
// or names the current entity-tag (strong comparison) or its exact Last-Modified date.
bool if_range_holds(const http::HttpFields& headers, const Validators& current);

// Whether `list` (an If-Match / If-None-Match field value: "*" or entity-tags, any of them
// weak) names `etag`. `weak` selects the weak comparison (§8.8.3.2): opaque-tags equal, W/
// ignored; the strong comparison also needs both tags strong.
bool etag_list_matches(std::string_view list, std::string_view etag, bool weak);

}  // namespace sluice::examples
