#include "content_type.hpp"

#include <algorithm>
#include <array>
#include <compare>
#include <cstdint>
#include <utility>

namespace sluice::examples {
namespace {

constexpr std::string_view kDefault = "application/octet-stream";

// Sorted by extension for a binary search.
constexpr std::array<std::pair<std::string_view, std::string_view>, 37> kTypes{{
    {"avif", "image/avif"},
    {"bin", "application/octet-stream"},
    {"bmp", "image/bmp"},
    {"css", "text/css; charset=utf-8"},
    {"csv", "text/csv; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript; charset=utf-8"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"ogg", "audio/ogg"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"wav", "audio/wav"},
    {"webm", "video/webm"},
    {"webmanifest", "application/manifest+json"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
    {"zst", "application/zstd"},
}};

// An extension of up to 16 octets as two big-endian words, zero-padded: comparing keys compares
// the names (a shorter name is padded with NULs, which sort first), in two integer compares
// instead of a call to memcmp per step of the search.
struct Key {
  std::uint64_t high = 0;
  std::uint64_t low = 0;
  friend constexpr bool operator==(const Key&, const Key&) = default;
  friend constexpr auto operator<=>(const Key&, const Key&) = default;
};
constexpr std::size_t kMaxExtension = 16;

constexpr Key key_of(std::string_view lower_extension) noexcept {
  Key key;
  for (std::size_t i = 0; i < kMaxExtension; ++i) {
    const auto octet =
        i < lower_extension.size()
            ? static_cast<std::uint64_t>(static_cast<unsigned char>(lower_extension[i]))
            : 0;
    std::uint64_t& word = i < 8 ? key.high : key.low;
    word = (word << 8) | octet;
  }
  return key;
}

constexpr std::array<Key, kTypes.size()> kKeys = [] {
  std::array<Key, kTypes.size()> keys{};
  for (std::size_t i = 0; i < kTypes.size(); ++i)
    keys[i] = key_of(kTypes[i].first);
  return keys;
}();

constexpr bool sorted() {
  for (std::size_t i = 1; i < kTypes.size(); ++i) {
    if (!(kTypes[i - 1].first < kTypes[i].first) || !(kKeys[i - 1] < kKeys[i])) return false;
  }
  return true;
}
static_assert(sorted(), "kTypes must stay sorted for the binary search");
static_assert(std::all_of(kTypes.begin(), kTypes.end(),
                          [](const auto& type) { return type.first.size() <= kMaxExtension; }));

}  // namespace

std::string_view content_type_for(std::string_view file_name) noexcept {
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file_name.size()) return kDefault;
  const std::string_view extension = file_name.substr(dot + 1);
  if (extension.size() > kMaxExtension) return kDefault;
  // A NUL inside the name would pad like the end of a shorter one: such a name has no type.
  if (extension.find('\0') != std::string_view::npos) return kDefault;
  char lower[kMaxExtension];
  for (std::size_t i = 0; i < extension.size(); ++i) {
    const char c = extension[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const Key key = key_of(std::string_view(lower, extension.size()));
  const auto found = std::lower_bound(kKeys.begin(), kKeys.end(), key);
  if (found == kKeys.end() || *found != key) return kDefault;
  return kTypes[static_cast<std::size_t>(found - kKeys.begin())].second;
}

}  // namespace sluice::examples
