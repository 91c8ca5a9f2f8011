#include "open_file_cache.hpp"

#include "content_type.hpp"
#include "http_time.hpp"
#include "sluice/core/event_loop.hpp"

namespace sluice::examples {

OpenedFile::OpenedFile(std::shared_ptr<const File> opened, const struct stat& status,
                       std::string_view name, std::int64_t now)
    : file(std::move(opened)),
      validators(validators_of(status, now)),
      etag(http::HeaderValue::of(validators.etag())),
      last_modified(http::HeaderValue::of(format_http_date(validators.last_modified).view())),
      content_type(http::HeaderValue::of(content_type_for(name))) {}

IterationFileCache& IterationFileCache::of_this_thread() {
  thread_local IterationFileCache cache;
  return cache;
}

const OpenedFile* IterationFileCache::find(const RootDirectory& root,
                                           const std::string& relative) const {
  if (root_ != &root) return nullptr;
  const auto found = files_.find(relative);
  return found == files_.end() ? nullptr : &found->second;
}

void IterationFileCache::insert(const RootDirectory& root, const std::string& relative,
                                const OpenedFile& opened) {
  EventLoop* loop = EventLoop::current();
  if (loop == nullptr) return;  // no iteration to end: keeping it would keep it for ever
  if (root_ != &root) {
    files_.clear();
    root_ = &root;
  }
  files_.insert_or_assign(relative, opened);
  if (!clear_deferred_) {
    clear_deferred_ = true;
    loop->defer([this] { clear(); });
  }
}

void IterationFileCache::clear() noexcept {
  files_.clear();
  clear_deferred_ = false;
}

}  // namespace sluice::examples
