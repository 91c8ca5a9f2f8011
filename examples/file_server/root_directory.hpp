#pragma once

#include <sys/stat.h>

#include <string>

#include "sluice/core/fd.hpp"

namespace sluice::examples {

// A file opened beneath the root, with what fstat said about it after the open (so the type
// and size are those of the file actually opened, not of whatever the path named a moment
// before).
struct OpenedEntry {
  Fd fd;
  struct stat info {};
  int error = 0;  // errno when the open failed (fd is then empty)
};

// The served tree. Every lookup is made relative to one directory descriptor, and the kernel
// refuses any resolution that would leave it:
//
//   openat2(root_fd, "docs/a.txt", {O_RDONLY|O_CLOEXEC|..., RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS})
//
// RESOLVE_BENEATH rejects "..", absolute symlinks and relative symlinks that climb out, at
// every step of the walk, with no window for a rename to slip in between a check and the open
// (the race a realpath()-then-open() server has). Kernels without openat2 (before 5.6) get a
// walk one component at a time with O_NOFOLLOW: stricter, since it follows no symlink at all.
// The descriptor is shared by every loop thread; lookups do not change it.
class RootDirectory {
 public:
  // Opens `path`. `allow_openat2` false forces the fallback walk (for tests). Throws
  // std::runtime_error when the path is not an accessible directory.
  RootDirectory(const std::string& path, bool allow_openat2);

  // Opens `relative` (from RequestPath::relative(): no "..", no empty segment) read-only
  // beneath the root. Any thread.
  OpenedEntry open(const std::string& relative) const;

  const std::string& path() const noexcept { return path_; }
  bool uses_openat2() const noexcept { return openat2_; }

 private:
  int open_with_openat2(const std::string& relative) const;
  int open_by_walking(const std::string& relative) const;

  std::string path_;
  Fd root_;
  bool openat2_;
};

}  // namespace sluice::examples
