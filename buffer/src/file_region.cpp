#include "sluice/buffer/file_region.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

namespace sluice {

Result<std::shared_ptr<File>> File::open(const std::string& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::from_errno(errno, "open " + path);
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return Error::from_errno(errno, "fstat " + path);
  return std::make_shared<File>(std::move(fd), path, static_cast<std::uint64_t>(info.st_size));
}

}  // namespace sluice
