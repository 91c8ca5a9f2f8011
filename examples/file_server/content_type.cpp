#include "content_type.hpp"

#include <array>
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

constexpr bool sorted() {
  for (std::size_t i = 1; i < kTypes.size(); ++i) {
    if (!(kTypes[i - 1].first < kTypes[i].first)) return false;
  }
  return true;
}
static_assert(sorted(), "kTypes must stay sorted for the binary search");

}  // namespace

std::string_view content_type_for(std::string_view file_name) noexcept {
  const std::size_t dot = file_name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == file_name.size()) return kDefault;
  const std::string_view extension = file_name.substr(dot + 1);
  if (extension.size() > 16) return kDefault;
  char lower[16];
  for (std::size_t i = 0; i < extension.size(); ++i) {
    const char c = extension[i];
    lower[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  const std::string_view key(lower, extension.size());
  std::size_t low = 0;
  std::size_t high = kTypes.size();
  while (low < high) {
    const std::size_t middle = (low + high) / 2;
    if (kTypes[middle].first < key) {
      low = middle + 1;
    } else {
      high = middle;
    }
  }
  return low < kTypes.size() && kTypes[low].first == key ? kTypes[low].second : kDefault;
}

}  // namespace sluice::examples
