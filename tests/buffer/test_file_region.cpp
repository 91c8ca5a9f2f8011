#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "sluice/buffer/file_region.hpp"

using namespace sluice;

namespace {

std::shared_ptr<const File> unopened_file(std::uint64_t size) {
  return std::make_shared<const File>(Fd(), "region.bin", size);
}

}  // namespace

TEST_CASE("a region counts what went out and where the next byte comes from") {
  FileRegion region(unopened_file(1000), 100, 500);
  CHECK(region.count() == 500);
  CHECK(region.remaining() == 500);
  region.advance(200);
  CHECK(region.transferred() == 200);
  CHECK(region.remaining() == 300);
  CHECK(region.position() == 300);
}

// A region moved out of a message leaves a husk behind: counted at its old size, it would be
// written (and counted as pending) with no file to send from.
TEST_CASE("a moved-from region has nothing left to send") {
  FileRegion source(unopened_file(1000), 0, 500, FileTransfer::kSplice);
  source.advance(100);
  FileRegion moved(std::move(source));
  CHECK(moved.remaining() == 400);
  CHECK(moved.position() == 100);
  CHECK(moved.transfer() == FileTransfer::kSplice);
  CHECK(source.count() == 0);  // NOLINT(bugprone-use-after-move): checking the moved-from state
  CHECK(source.remaining() == 0);

  FileRegion assigned(unopened_file(10), 0, 10);
  assigned = std::move(moved);
  CHECK(assigned.remaining() == 400);
  CHECK(assigned.file().size() == 1000);
  CHECK(moved.remaining() == 0);  // NOLINT(bugprone-use-after-move)
}

// A region without a file passed as one with nothing to send until the transport reached for
// its descriptor through a null pointer; one ending past the largest offset wrapped round.
TEST_CASE("a region with bytes but no file, or ending past the largest offset, is refused") {
  CHECK_THROWS_AS(FileRegion(nullptr, 0, 1), std::invalid_argument);
  CHECK_NOTHROW(FileRegion(nullptr, 0, 0));
  CHECK_THROWS_AS(FileRegion(unopened_file(10), kMaxFileOffset, 1), std::invalid_argument);
  CHECK_THROWS_AS(FileRegion(unopened_file(10), 1, std::numeric_limits<std::uint64_t>::max()),
                  std::invalid_argument);
  CHECK(FileRegion(unopened_file(10), kMaxFileOffset - 5, 5).remaining() == 5);
}

// The end check subtracted the offset from the largest offset first: an offset past it wrapped
// that difference round to a huge room, and the region was accepted with a position that the
// transport turns into a negative off_t.
TEST_CASE("a region starting past the largest file offset is refused, even an empty one") {
  CHECK_THROWS_AS(FileRegion(unopened_file(10), kMaxFileOffset + 1, 0), std::invalid_argument);
  CHECK_THROWS_AS(FileRegion(unopened_file(10), std::numeric_limits<std::uint64_t>::max(), 1),
                  std::invalid_argument);
  CHECK_THROWS_AS(FileRegion(nullptr, std::numeric_limits<std::uint64_t>::max(), 0),
                  std::invalid_argument);
  CHECK(FileRegion(unopened_file(10), kMaxFileOffset, 0).remaining() == 0);
}

namespace {

// A scratch directory, removed with what is in it.
class ScratchDir {
 public:
  ScratchDir() {
    char pattern[] = "/tmp/sluice-file-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path_ = pattern;
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const char* name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace

TEST_CASE("File::open opens a regular file with its size") {
  ScratchDir dir;
  {
    std::ofstream out(dir.file("data.bin"), std::ios::binary);
    out << std::string(1234, 'x');
  }
  auto file = File::open(dir.file("data.bin"));
  REQUIRE(file);
  CHECK(file.value()->size() == 1234);
  CHECK((::fcntl(file.value()->fd(), F_GETFL) & O_NONBLOCK) == 0);
  auto missing = File::open(dir.file("missing"));
  REQUIRE_FALSE(missing);
  CHECK(missing.error() == std::errc::no_such_file_or_directory);
}

TEST_CASE("File::open refuses a directory and a device") {
  ScratchDir dir;
  auto directory = File::open(dir.file(""));
  REQUIRE_FALSE(directory);
  CHECK(directory.error() == std::errc::is_a_directory);
  auto device = File::open("/dev/null");
  REQUIRE_FALSE(device);
  CHECK(device.error() == std::errc::invalid_argument);
}

// Opened for reading, a FIFO with no writer blocked the caller (a loop thread: the whole loop)
// until a writer came.
TEST_CASE("File::open refuses a FIFO without waiting for a writer") {
  ScratchDir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto opening = std::async(std::launch::async, [&] { return File::open(fifo); });
  if (opening.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
    // Free the blocked open by coming as a writer, so that the test ends.
    const Fd writer(::open(fifo.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    FAIL("File::open of a FIFO blocked waiting for a writer");
  }
  auto opened = opening.get();
  REQUIRE_FALSE(opened);
  CHECK(opened.error() == std::errc::invalid_argument);
}
