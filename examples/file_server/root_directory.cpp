#include "root_directory.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace sluice::examples {
namespace {

// O_NONBLOCK so that opening a FIFO (or a device) someone left in the tree cannot block the
// loop thread, as nginx opens its files; it is cleared again for the regular files we serve.
// O_NOCTTY so that a terminal device never becomes our controlling terminal.
constexpr int kOpenFlags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;

long call_openat2(int dir_fd, const char* path, const open_how& how) {
  return ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
}

}  // namespace

RootDirectory::RootDirectory(const std::string& path, bool allow_openat2) : path_(path) {
  root_.reset(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root_) {
    const int error = errno;
    throw std::runtime_error(fmt::format("--root {}: {}", path, std::strerror(error)));
  }
  openat2_ = allow_openat2;
  if (openat2_) {
    // Probe once: a kernel before 5.6 answers ENOSYS, and every lookup then walks instead.
    // So does any other refusal of this lookup, which cannot fail on its own merits (the
    // root is open): a seccomp filter may answer EPERM (container runtimes did before they
    // learnt openat2), and taking openat2 then would have refused every file with a 403.
    const open_how how{O_PATH | O_CLOEXEC, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    const long fd = call_openat2(root_.get(), ".", how);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
    } else {
      openat2_ = false;
    }
  }
}

OpenedEntry RootDirectory::open(const std::string& relative) const {
  OpenedEntry entry;
  const int fd = openat2_ ? open_with_openat2(relative) : open_by_walking(relative);
  if (fd < 0) {
    entry.error = errno;
    return entry;
  }
  entry.fd.reset(fd);
  if (::fstat(fd, &entry.info) != 0) {
    entry.error = errno;
    entry.fd.reset();
    return entry;
  }
  if (S_ISREG(entry.info.st_mode)) {
    // Reads of a regular file ignore O_NONBLOCK today, but nothing promises that for every
    // file system (RWF_NOWAIT semantics); the transfer paths expect blocking reads. O_NONBLOCK
    // is the only F_SETFL flag kOpenFlags sets, so no F_GETFL is needed to keep the others.
    ::fcntl(fd, F_SETFL, 0);
  }
  return entry;
}

int RootDirectory::open_with_openat2(const std::string& relative) const {
  // RESOLVE_NO_MAGICLINKS: no /proc/self/fd/N style jumps even if /proc were under the root.
  const open_how how{static_cast<__u64>(kOpenFlags), 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  for (int attempt = 0;; ++attempt) {
    const long fd = call_openat2(root_.get(), relative.c_str(), how);
    // EAGAIN: a rename or mount raced with the walk and the kernel could not prove the result
    // stays beneath the root (openat2(2)); retrying is what the man page asks for.
    if (fd < 0 && errno == EAGAIN && attempt < 3) continue;
    return static_cast<int>(fd);
  }
}

int RootDirectory::open_by_walking(const std::string& relative) const {
  if (relative == ".") return ::openat(root_.get(), ".", kOpenFlags | O_DIRECTORY);
  Fd directory;
  int at = root_.get();
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = relative.find('/', start);
    const std::string component = relative.substr(start, slash - start);
    if (slash == std::string::npos) {
      // The last component: O_NOFOLLOW makes a symlink fail with ELOOP.
      return ::openat(at, component.c_str(), kOpenFlags | O_NOFOLLOW);
    }
    // O_PATH|O_NOFOLLOW would open a symlink itself; O_DIRECTORY then refuses it (ENOTDIR).
    Fd next(::openat(at, component.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next) return -1;
    directory = std::move(next);
    at = directory.get();
    start = slash + 1;
  }
}

}  // namespace sluice::examples
