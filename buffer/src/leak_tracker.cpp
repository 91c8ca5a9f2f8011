#include "sluice/buffer/detail/leak_tracker.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <mutex>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace sluice::detail {
namespace {

struct Tracker {
  std::mutex mutex;
  std::unordered_map<const StorageHeader*, SourceSite> sites;
};

Tracker& tracker() {
  static auto* instance = new Tracker;  // never destroyed: buffers may die during exit
  return *instance;
}

}  // namespace

void record_allocation(const StorageHeader* header, const SourceSite& site) {
  Tracker& t = tracker();
  std::lock_guard lock(t.mutex);
  t.sites.insert_or_assign(header, site);
}

void forget_allocation(const StorageHeader* header) noexcept {
  Tracker& t = tracker();
  std::lock_guard lock(t.mutex);
  t.sites.erase(header);
}

SourceSite allocation_site(const StorageHeader* header, SourceSite fallback) {
  Tracker& t = tracker();
  std::lock_guard lock(t.mutex);
  auto it = t.sites.find(header);
  return it == t.sites.end() ? fallback : it->second;
}

std::string live_allocation_report(std::size_t max_sites) {
  struct Site {
    std::string_view file;
    std::uint_least32_t line;
    std::string_view function;
    std::size_t count;
  };
  std::vector<Site> sites;
  std::size_t total = 0;
  {
    Tracker& t = tracker();
    std::lock_guard lock(t.mutex);
    for (const auto& entry : t.sites) {
      const SourceSite& location = entry.second;
      ++total;
      auto same = [&](const Site& s) { return s.file == location.file && s.line == location.line; };
      if (auto it = std::find_if(sites.begin(), sites.end(), same); it != sites.end()) {
        ++it->count;
      } else {
        sites.push_back({location.file, location.line, location.function, 1});
      }
    }
  }
  std::sort(sites.begin(), sites.end(), [](const Site& a, const Site& b) {
    return std::tie(b.count, a.file, a.line) < std::tie(a.count, b.file, b.line);
  });
  std::string report = fmt::format("{} live buffers from {} sites\n", total, sites.size());
  for (std::size_t i = 0; i < sites.size() && i < max_sites; ++i) {
    report += fmt::format("  {:>6}  {}:{} ({})\n", sites[i].count, sites[i].file, sites[i].line,
                          sites[i].function);
  }
  return report;
}

}  // namespace sluice::detail
