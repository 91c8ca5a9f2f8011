#include "conditional.hpp"

#include <algorithm>
#include <charconv>
#include <optional>

#include "http_time.hpp"

namespace sluice::examples {
namespace {

using http::equals_ignore_case;
using http::HttpFields;

// How many fields named `name` the request has, and the first one's value.
struct FieldLookup {
  std::size_t count = 0;
  std::string_view first;
};

FieldLookup look_up(const HttpFields& headers, std::string_view name) {
  FieldLookup found;
  for (const http::Field field : headers) {
    if (!equals_ignore_case(field.name, name)) continue;
    if (found.count++ == 0) found.first = field.value;
  }
  return found;
}

// A list-valued field sent as several lines is one list (RFC 9110 §5.3).
template <typename Predicate>
bool any_field_line(const HttpFields& headers, std::string_view name, Predicate&& predicate) {
  for (const http::Field field : headers) {
    if (equals_ignore_case(field.name, name) && predicate(field.value)) return true;
  }
  return false;
}

// A date field with exactly one valid HTTP-date; otherwise it is ignored (RFC 9110 §13.1.3-4:
// a recipient must ignore one that is invalid or has more than one member).
std::optional<std::int64_t> single_date(const HttpFields& headers, std::string_view name) {
  const FieldLookup field = look_up(headers, name);
  if (field.count != 1) return std::nullopt;
  return parse_http_date(field.first);
}

}  // namespace

Validators validators_of(const struct stat& info, std::int64_t now) {
  const auto mtime_ns = static_cast<std::uint64_t>(info.st_mtim.tv_sec) * 1'000'000'000u +
                        static_cast<std::uint64_t>(info.st_mtim.tv_nsec);
  Validators result;
  // Written by hand rather than formatted: every file response carries one.
  static_assert(sizeof result.etag_text >= 1 + 16 + 1 + 16 + 1 + 16 + 1,
                "three 64-bit hex numbers");
  char* out = result.etag_text;
  char* const end = result.etag_text + sizeof result.etag_text;
  *out++ = '"';
  out = std::to_chars(out, end, static_cast<std::uint64_t>(info.st_ino), 16).ptr;
  *out++ = '-';
  out = std::to_chars(out, end, static_cast<std::uint64_t>(info.st_size), 16).ptr;
  *out++ = '-';
  out = std::to_chars(out, end, mtime_ns, 16).ptr;
  *out++ = '"';
  result.etag_length = static_cast<std::uint8_t>(out - result.etag_text);
  // RFC 9110 §8.8.2.1: Last-Modified never later than the response's Date. A file dated in the
  // future would otherwise hand out a date that If-Modified-Since answers 304 to after the
  // file changes. (The ETag keeps the real mtime.)
  result.last_modified = std::min(static_cast<std::int64_t>(info.st_mtim.tv_sec), now);
  return result;
}

bool etag_list_matches(std::string_view list, std::string_view etag, bool weak) {
  // entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE, and etagc includes ',', so the list is
  // scanned tag by tag rather than split on commas.
  const bool current_weak = etag.starts_with("W/");
  const std::string_view current = current_weak ? etag.substr(2) : etag;
  std::size_t i = 0;
  while (i < list.size()) {
    const char c = list[i];
    if (c == ' ' || c == '\t' || c == ',') {
      ++i;
      continue;
    }
    if (c == '*') return true;  // "*" matches any current representation
    bool tag_weak = false;
    if (list.substr(i, 2) == "W/") {
      tag_weak = true;
      i += 2;
    }
    if (i >= list.size() || list[i] != '"') return false;  // malformed: nothing more is trusted
    const std::size_t close = list.find('"', i + 1);
    if (close == std::string_view::npos) return false;
    const std::string_view tag = list.substr(i, close - i + 1);
    i = close + 1;
    if (tag == current && (weak || (!tag_weak && !current_weak))) return true;
  }
  return false;
}

Precondition evaluate_preconditions(const HttpFields& headers, const Validators& current) {
  // Step 1-2: If-Match (strong comparison), or else If-Unmodified-Since.
  if (headers.contains("If-Match")) {
    const bool matched = any_field_line(headers, "If-Match", [&](std::string_view value) {
      return etag_list_matches(value, current.etag(), false);
    });
    if (!matched) return Precondition::kFailed;
  } else if (auto date = single_date(headers, "If-Unmodified-Since")) {
    if (current.last_modified > *date) return Precondition::kFailed;
  }
  // Step 3: If-None-Match uses the weak comparison (§13.1.2); a match on GET/HEAD is a 304.
  if (headers.contains("If-None-Match")) {
    const bool matched = any_field_line(headers, "If-None-Match", [&](std::string_view value) {
      return etag_list_matches(value, current.etag(), true);
    });
    return matched ? Precondition::kNotModified : Precondition::kProceed;
  }
  // Step 4: If-Modified-Since only when If-None-Match is absent (§13.1.3): the entity-tag is
  // the more accurate validator.
  if (auto date = single_date(headers, "If-Modified-Since")) {
    if (current.last_modified <= *date) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

Precondition evaluate_preconditions_without_validators(const HttpFields& headers) {
  // An empty entity-tag equals no tag a client can send, so only "*" matches it.
  constexpr std::string_view kNoTag;
  if (headers.contains("If-Match")) {
    const bool matched = any_field_line(headers, "If-Match", [&](std::string_view value) {
      return etag_list_matches(value, kNoTag, false);
    });
    if (!matched) return Precondition::kFailed;
  }
  if (headers.contains("If-None-Match")) {
    const bool matched = any_field_line(headers, "If-None-Match", [&](std::string_view value) {
      return etag_list_matches(value, kNoTag, true);
    });
    if (matched) return Precondition::kNotModified;
  }
  return Precondition::kProceed;
}

bool if_range_holds(const HttpFields& headers, const Validators& current) {
  const FieldLookup field = look_up(headers, "If-Range");
  if (field.count == 0) return true;
  if (field.count > 1) return false;
  const std::string_view value = field.first;
  // §13.1.5: an entity-tag is told from a date by its first characters (DQUOTE or W/).
  if (value.starts_with("\"") || value.starts_with("W/")) {
    // Strong comparison: a weak tag never matches, as a range of a merely equivalent
    // representation could splice together bytes of two different files.
    return !value.starts_with("W/") && value == current.etag();
  }
  // A date matches only if it is a strong validator (§13.1.5), which needs the server to know
  // that the file did not change twice within the second it names (§8.8.2.2). It cannot: a
  // client may have fetched the file between two writes in one second, and a range of the new
  // file would then be spliced onto the old copy. The range is ignored; the ETag that every
  // response carries is what a client should send here.
  return false;
}

}  // namespace sluice::examples
