#include "root_directory.hpp"

#include <fcntl.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace sluice::examples {
namespace {

// Lookups resolve to an O_PATH descriptor, which names the file without opening it: no FIFO,
// device or socket is ever opened. (Opening a FIFO for reading, even non-blocking and closed
// at once, lets a local writer blocked in open(O_WRONLY) go on, and its next write then fails
// with EPIPE: any client could have disturbed local programs.) Only a regular file or a
// directory is opened for reading, after fstat has said which it is.
constexpr int kPathFlags = O_PATH | O_CLOEXEC;
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC;
// Used only by the re-resolving fallback (no /proc): the name may have been replaced by a FIFO
// or a device since it was looked at, and such an open must neither block the loop thread nor
// make a terminal our controlling one.
constexpr int kReresolveFlags = kReadFlags | O_NONBLOCK | O_NOCTTY;

long call_openat2(int dir_fd, const char* path, const open_how& how) {
  return ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
}

// "/proc/self/fd/N": a magic link to the file that descriptor N refers to, not a name that
// could have been replaced since, so nothing is looked up beneath the root a second time and
// RESOLVE_BENEATH's answer stands. It is the one way Linux offers an unprivileged process to
// open an O_PATH descriptor for reading (openat(fd, "", AT_EMPTY_PATH) does not exist for
// open; open_by_handle_at wants CAP_DAC_READ_SEARCH).
struct ProcFdPath {
  explicit ProcFdPath(int fd) {
    constexpr std::string_view prefix = "/proc/self/fd/";
    std::memcpy(text, prefix.data(), prefix.size());
    char* end = std::to_chars(text + prefix.size(), text + sizeof text - 1, fd).ptr;
    *end = '\0';
  }
  char text[32];
};

bool same_file(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Whether /proc/self/fd/N reopens what N refers to: /proc must be procfs (an ordinary
// directory mounted there would hand out other files), and the reopened root must be the root.
bool proc_reopens(int root_fd) {
  struct statfs proc {};
  if (::statfs("/proc", &proc) != 0 || proc.f_type != PROC_SUPER_MAGIC) return false;
  const Fd reopened(::open(ProcFdPath(root_fd).text, kReadFlags | O_DIRECTORY));
  struct stat original {};
  struct stat again {};
  return reopened && ::fstat(root_fd, &original) == 0 && ::fstat(reopened.get(), &again) == 0 &&
         same_file(original, again);
}

}  // namespace

RootDirectory::RootDirectory(const std::string& path, bool allow_openat2, bool allow_proc_reopen)
    : path_(path) {
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
    const open_how how{kPathFlags, 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
    const long fd = call_openat2(root_.get(), ".", how);
    if (fd >= 0) {
      ::close(static_cast<int>(fd));
    } else {
      openat2_ = false;
    }
  }
  proc_reopen_ = allow_proc_reopen && proc_reopens(root_.get());
}

OpenedEntry RootDirectory::open(const std::string& relative) const {
  OpenedEntry entry;
  Fd path(openat2_ ? resolve_with_openat2(relative, kPathFlags)
                   : resolve_by_walking(relative, kPathFlags));
  if (!path || ::fstat(path.get(), &entry.info) != 0) {
    entry.error = errno;
    return entry;
  }
  if (S_ISREG(entry.info.st_mode)) {
    int fd = proc_reopen_ ? ::open(ProcFdPath(path.get()).text, kReadFlags) : -1;
    // ENOENT cannot be the file's (descriptor N is open): /proc went away since the start.
    if (fd < 0 && (!proc_reopen_ || errno == ENOENT)) fd = reresolve_regular(relative, entry.info);
    entry.fd.reset(fd);
  } else if (S_ISDIR(entry.info.st_mode)) {
    // "." beneath a directory's own descriptor is that directory: no /proc needed.
    entry.fd.reset(::openat(path.get(), ".", kReadFlags | O_DIRECTORY));
  } else if (S_ISLNK(entry.info.st_mode)) {
    // The walk's O_PATH|O_NOFOLLOW gives the link itself: it follows no symlink at all.
    errno = ELOOP;
  } else {
    return entry;  // a FIFO, socket or device: described, never opened
  }
  if (!entry.fd) entry.error = errno;
  return entry;
}

int RootDirectory::reresolve_regular(const std::string& relative, struct stat& info) const {
  // Without /proc the name is looked up again, now for reading. What it names may have been
  // replaced since the first lookup; only a regular file is kept (a FIFO swapped in during that
  // window is opened, the one case this cannot rule out).
  Fd fd(openat2_ ? resolve_with_openat2(relative, kReresolveFlags)
                 : resolve_by_walking(relative, kReresolveFlags));
  struct stat now {};
  if (!fd || ::fstat(fd.get(), &now) != 0) return -1;
  if (!S_ISREG(now.st_mode)) {
    errno = ENOENT;
    return -1;
  }
  info = now;  // of the file opened, should it be another
  // Reads of a regular file ignore O_NONBLOCK today, but nothing promises that for every file
  // system (RWF_NOWAIT semantics); the transfer paths expect blocking reads. O_NONBLOCK is the
  // only F_SETFL flag kReresolveFlags sets, so no F_GETFL is needed to keep the others.
  ::fcntl(fd.get(), F_SETFL, 0);
  return fd.release();
}

int RootDirectory::resolve_with_openat2(const std::string& relative, int flags) const {
  // RESOLVE_NO_MAGICLINKS: no /proc/self/fd/N style jumps even if /proc were under the root.
  const open_how how{static_cast<__u64>(flags), 0, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  for (int attempt = 0;; ++attempt) {
    const long fd = call_openat2(root_.get(), relative.c_str(), how);
    // EAGAIN: a rename or mount raced with the walk and the kernel could not prove the result
    // stays beneath the root (openat2(2)); retrying is what the man page asks for.
    if (fd < 0 && errno == EAGAIN && attempt < 3) continue;
    return static_cast<int>(fd);
  }
}

int RootDirectory::resolve_by_walking(const std::string& relative, int flags) const {
  if (relative == ".") return ::openat(root_.get(), ".", flags | O_DIRECTORY);
  Fd directory;
  int at = root_.get();
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = relative.find('/', start);
    const std::string component = relative.substr(start, slash - start);
    if (slash == std::string::npos) {
      // The last component: O_NOFOLLOW makes a symlink fail with ELOOP, or with O_PATH gives
      // the link itself, which open() refuses.
      return ::openat(at, component.c_str(), flags | O_NOFOLLOW);
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
