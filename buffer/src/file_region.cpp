#include "sluice/buffer/file_region.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace sluice {

namespace {

// A directory is EISDIR, as read() would say; anything else that is not a regular file (a
// FIFO, a socket, a device) has no size to send and no page cache to send it from.
Error not_regular(const struct stat& info, const std::string& path) {
  if (S_ISDIR(info.st_mode)) return Error::from_errno(EISDIR, "open " + path);
  return Error::from_errno(EINVAL, "open " + path + ": not a regular file");
}

}  // namespace

Result<std::shared_ptr<File>> File::open(const std::string& path) {
  // Looked at before it is opened: opening a FIFO for reading blocks until a writer comes (on
  // a loop thread, the whole loop), and even a non-blocking open lets a writer waiting for a
  // reader go on, only to fail once this side closes.
  struct stat info {};
  {
    const Fd lookup(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!lookup) return Error::from_errno(errno, "open " + path);
    if (::fstat(lookup.get(), &info) != 0) return Error::from_errno(errno, "fstat " + path);
    if (!S_ISREG(info.st_mode)) return not_regular(info, path);
  }
  // Non-blocking in case the name now leads to a FIFO after all (replaced since the look).
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd) return Error::from_errno(errno, "open " + path);
  if (::fstat(fd.get(), &info) != 0) return Error::from_errno(errno, "fstat " + path);
  if (!S_ISREG(info.st_mode)) return not_regular(info, path);
  // Reads of a regular file ignore O_NONBLOCK, but splice from one may not block on the page
  // cache with it set: cleared, every transfer mechanism sees an ordinary descriptor.
  if (::fcntl(fd.get(), F_SETFL, 0) != 0) return Error::from_errno(errno, "fcntl " + path);
  return std::make_shared<File>(std::move(fd), path, static_cast<std::uint64_t>(info.st_size));
}

}  // namespace sluice
