#include "directory_listing.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "http_time.hpp"

namespace sluice::examples {
namespace {

struct Entry {
  std::string name;
  bool directory = false;
  bool symlink = false;
  std::uint64_t size = 0;
  std::int64_t modified = 0;
};

std::optional<std::vector<Entry>> read_entries(int dir_fd) {
  // fdopendir takes the descriptor it is given: a duplicate keeps the caller's.
  const int copy = ::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return std::nullopt;
  // Owned from here, so that an entry that runs out of memory does not leak the descriptor.
  const std::unique_ptr<DIR, int (*)(DIR*)> dir(::fdopendir(copy), &::closedir);
  if (!dir) {
    ::close(copy);
    return std::nullopt;
  }
  std::vector<Entry> entries;
  while (const dirent* raw = ::readdir(dir.get())) {
    const std::string_view name = raw->d_name;
    if (name == "." || name == "..") continue;
    Entry entry;
    entry.name = std::string(name);
    struct stat info {};
    // AT_SYMLINK_NOFOLLOW: describing a link's target would tell what lies outside the root.
    if (::fstatat(dir_fd, raw->d_name, &info, AT_SYMLINK_NOFOLLOW) == 0) {
      entry.directory = S_ISDIR(info.st_mode);
      entry.symlink = S_ISLNK(info.st_mode);
      entry.size = static_cast<std::uint64_t>(info.st_size);
      entry.modified = static_cast<std::int64_t>(info.st_mtim.tv_sec);
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.directory != b.directory) return a.directory;
    return a.name < b.name;
  });
  return entries;
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

std::optional<std::string> render_directory_listing(int dir_fd, const RequestPath& path) {
  auto entries = read_entries(dir_fd);
  if (!entries) return std::nullopt;
  const std::string title = html_escape(fmt::format("Index of {}", path.display()));
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>{0}</title>\n<style>body{{font-family:sans-serif;margin:2em}}"
      "td{{padding:0 1.5em 0 0}}td.size{{text-align:right}}</style>\n</head>\n<body>\n"
      "<h1>{0}</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Last modified</th></tr>\n",
      title);
  if (!path.segments.empty()) {
    html += "<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n";
  }
  for (const Entry& entry : *entries) {
    // The href is relative to the directory (whose URL ends in '/'); every octet outside the
    // unreserved set is encoded, so a ':' cannot turn the name into a scheme.
    const std::string href = percent_encode_segment(entry.name) + (entry.directory ? "/" : "");
    const std::string shown = html_escape(entry.name) + (entry.directory ? "/" : "");
    const std::string size = entry.directory || entry.symlink ? "-" : std::to_string(entry.size);
    html += fmt::format(
        "<tr><td><a href=\"{}\">{}</a></td><td class=\"size\">{}</td><td>{}</td></tr>\n", href,
        shown, size, format_http_date(entry.modified).view());
  }
  html += "</table>\n</body>\n</html>\n";
  return html;
}

}  // namespace sluice::examples
