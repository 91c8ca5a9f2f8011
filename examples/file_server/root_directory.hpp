#pragma once

#include <sys/stat.h>

#include <string>

#include "sluice/core/fd.hpp"

namespace sluice::examples {

// An entry looked up beneath the root, with what fstat said about it (so the type and size are
// those of the file found, not of whatever the path named a moment before). Only regular files
// and directories are opened: for a FIFO, socket or device, fd stays empty and error 0, and
// info says what it is.
struct OpenedEntry {
  Fd fd;
  struct stat info {};
  int error = 0;  // errno when the lookup or the open failed (fd is then empty)
};

// The served tree. Every lookup is made relative to one directory descriptor, and the kernel
// refuses any resolution that would leave it:
//
//   openat2(root_fd, "docs/a.txt", {O_PATH|O_CLOEXEC, RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS})
//
// RESOLVE_BENEATH rejects "..", absolute symlinks and relative symlinks that climb out, at
// every step of the walk, with no window for a rename to slip in between a check and the open
// (the race a realpath()-then-open() server has). Kernels without openat2 (before 5.6) get a
// walk one component at a time with O_NOFOLLOW: stricter, since it follows no symlink at all.
//
// The lookup gives an O_PATH descriptor, which opens nothing: fstat on it tells a regular file
// from a FIFO or device before anything is opened for reading, since opening a FIFO for reading
// releases a local writer waiting for a reader (and breaks its next write when we close it).
// A regular file is then opened through /proc/self/fd/N, which reopens that very file; where
// /proc is not there, its name is looked up again for reading (see reresolve_regular).
// The descriptor is shared by every loop thread; lookups do not change it.
class RootDirectory {
 public:
  // Opens `path`. `allow_openat2` false forces the fallback walk, `allow_proc_reopen` false the
  // second lookup instead of /proc (both for tests). Throws std::runtime_error when the path is
  // not an accessible directory.
  RootDirectory(const std::string& path, bool allow_openat2, bool allow_proc_reopen = true);

  // Looks up `relative` (from RequestPath::relative(): no "..", no empty segment) beneath the
  // root and opens it read-only if it is a regular file or a directory. Any thread.
  OpenedEntry open(const std::string& relative) const;

  const std::string& path() const noexcept { return path_; }
  bool uses_openat2() const noexcept { return openat2_; }
  bool uses_proc_reopen() const noexcept { return proc_reopen_; }

 private:
  int resolve_with_openat2(const std::string& relative, int flags) const;
  int resolve_by_walking(const std::string& relative, int flags) const;
  int reresolve_regular(const std::string& relative, struct stat& info) const;

  std::string path_;
  Fd root_;
  bool openat2_;
  bool proc_reopen_;
};

}  // namespace sluice::examples
