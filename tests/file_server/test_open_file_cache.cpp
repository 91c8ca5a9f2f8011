// The file server's IterationFileCache: what one loop iteration opened, shared by the requests
// of that iteration and by none after it.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "open_file_cache.hpp"
#include "root_directory.hpp"
#include "sluice/core/event_loop.hpp"

namespace {

using sluice::EventLoop;
using sluice::File;
using sluice::examples::IterationFileCache;
using sluice::examples::OpenedFile;
using sluice::examples::RootDirectory;

// A directory with one file, removed at the end of the test.
struct Tree {
  Tree() {
    char pattern[] = "/tmp/sluice-file-cache-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
    std::ofstream(path + "/page.html") << "<p>page</p>\n";
  }
  ~Tree() { std::filesystem::remove_all(path); }
  std::string path;
};

OpenedFile open_file(const RootDirectory& root, const std::string& relative) {
  auto entry = root.open(relative);
  REQUIRE(entry.fd);
  auto file = std::make_shared<const File>(std::move(entry.fd), "/" + relative,
                                           static_cast<std::uint64_t>(entry.info.st_size));
  return OpenedFile(std::move(file), entry.info, relative, entry.info.st_mtim.tv_sec + 60);
}

}  // namespace

TEST_CASE("an entry is found until the loop iteration that kept it ends, then let go") {
  Tree tree;
  const RootDirectory root(tree.path, true);
  EventLoop loop("file-cache");
  loop.bind_to_current_thread();
  IterationFileCache& cache = IterationFileCache::of_this_thread();
  OpenedFile opened = open_file(root, "page.html");
  cache.insert(root, "page.html", opened);

  const OpenedFile* found = cache.find(root, "page.html");
  REQUIRE(found != nullptr);
  CHECK(found->file == opened.file);
  CHECK(found->content_type.view() == "text/html; charset=utf-8");
  CHECK(found->etag.view() == opened.validators.etag());
  CHECK(cache.find(root, "other.html") == nullptr);
  CHECK(opened.file.use_count() == 2);

  loop.run_ready();
  CHECK(cache.find(root, "page.html") == nullptr);
  CHECK(cache.size() == 0);
  CHECK(opened.file.use_count() == 1);  // the descriptor closes with the last response

  // The next iteration keeps what it opens, and lets it go in turn.
  cache.insert(root, "page.html", opened);
  CHECK(cache.find(root, "page.html") != nullptr);
  loop.run_ready();
  CHECK(cache.size() == 0);
}

TEST_CASE("entries belong to their root: another root finds none of them") {
  Tree first;
  Tree second;
  const RootDirectory one(first.path, true);
  const RootDirectory two(second.path, true);
  EventLoop loop("file-cache");
  loop.bind_to_current_thread();
  IterationFileCache& cache = IterationFileCache::of_this_thread();
  const OpenedFile from_one = open_file(one, "page.html");
  cache.insert(one, "page.html", from_one);
  CHECK(cache.find(two, "page.html") == nullptr);
  cache.insert(two, "page.html", open_file(two, "page.html"));
  CHECK(cache.find(one, "page.html") == nullptr);
  CHECK(cache.size() == 1);
  loop.run_ready();
  CHECK(cache.size() == 0);
}

TEST_CASE("without an event loop on the thread nothing is kept, since no iteration would end") {
  Tree tree;
  const RootDirectory root(tree.path, true);
  REQUIRE(EventLoop::current() == nullptr);
  IterationFileCache& cache = IterationFileCache::of_this_thread();
  const OpenedFile opened = open_file(root, "page.html");
  cache.insert(root, "page.html", opened);
  CHECK(cache.find(root, "page.html") == nullptr);
  CHECK(opened.file.use_count() == 1);
}
