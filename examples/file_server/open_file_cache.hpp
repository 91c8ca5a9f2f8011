#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "conditional.hpp"
#include "sluice/buffer/file_region.hpp"
#include "sluice/codec/http/http_header.hpp"

namespace sluice::examples {

class RootDirectory;

// A regular file opened beneath the root: the descriptor, shared by every response that sends
// it, and what its responses say about it (from fstat right after the open), made once per
// open rather than once per response.
struct OpenedFile {
  // `name` is the last segment of the path (it gives the media type); `now` bounds
  // Last-Modified.
  OpenedFile(std::shared_ptr<const File> opened, const struct stat& status, std::string_view name,
             std::int64_t now);

  std::shared_ptr<const File> file;
  Validators validators;
  http::HeaderValue etag;
  http::HeaderValue last_modified;
  http::HeaderValue content_type;
};

// The regular files opened during the current iteration of this thread's event loop, by path
// beneath the root. Requests read in one iteration (pipelined ones, or a hot file asked for
// on many connections at once) share one open instead of each paying openat2, fstat, the
// reopen through /proc and two closes: under wrk, 16 connections fetching a 64 KiB file, an
// iteration serves about 16 requests, and the open and its fstat, fcntl and close were four of
// the seven calls a response cost.
//
// The entries are dropped when the iteration ends, so nothing is served from the cache that a
// request arriving later could tell apart: a file renamed, replaced or deleted is opened
// afresh by the next iteration's requests, and those that shared the old descriptor arrived
// together with the one that opened it. The responses in flight keep their File; the cache
// holds no descriptor past the iteration.
//
// Loop thread only. Without a loop on the thread (a handler driven by hand) nothing is kept.
class IterationFileCache {
 public:
  static IterationFileCache& of_this_thread();

  // The file at `relative` beneath `root` if this iteration opened it, else null.
  const OpenedFile* find(const RootDirectory& root, const std::string& relative) const;
  // Keeps `opened` until the iteration ends.
  void insert(const RootDirectory& root, const std::string& relative, const OpenedFile& opened);

  std::size_t size() const noexcept { return files_.size(); }

 private:
  void clear() noexcept;

  const RootDirectory* root_ = nullptr;  // the root the entries were opened under
  std::unordered_map<std::string, OpenedFile> files_;
  bool clear_deferred_ = false;
};

}  // namespace sluice::examples
