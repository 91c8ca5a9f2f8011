#include <doctest/doctest.h>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <string>
#include <utility>

#include "sluice/buffer/buffer_error.hpp"
#include "sluice/buffer/mapped_region.hpp"

using namespace sluice;

namespace {

constexpr std::string_view kContent = "mapped bytes from a file";

// A file holding kContent, unlinked at once: only the open descriptor keeps it.
std::shared_ptr<File> content_file() {
  char path[] = "/tmp/sluice-mapped-region-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, kContent.data(), kContent.size()) == static_cast<ssize_t>(kContent.size()));
  ::close(fd);
  auto file = File::open(path);
  ::unlink(path);
  REQUIRE(file);
  return *file;
}

std::string file_text(const File& file) {
  std::array<char, 64> text{};
  const ssize_t got = ::pread(file.fd(), text.data(), text.size(), 0);
  REQUIRE(got >= 0);
  return std::string(text.data(), static_cast<std::size_t>(got));
}

Buffer mapped(const File& file, std::uint64_t offset = 0) {
  auto buffer = map_file_region(file, offset, kContent.size() - offset);
  REQUIRE(buffer);
  REQUIRE(buffer->is_external());
  return std::move(*buffer);
}

}  // namespace

TEST_CASE("a mapped region reads as the file's bytes, from any offset") {
  const auto file = content_file();
  CHECK(mapped(*file).readable_view() == kContent);
  CHECK(mapped(*file, 7).readable_view() == kContent.substr(7));
  CHECK(mapped(*file).writable_bytes() == 0);
}

TEST_CASE("writes into a mapped region's bytes are refused with a typed error") {
  const auto file = content_file();
  Buffer buffer = mapped(*file);
  CHECK_THROWS_AS(buffer.set_u32(0, 0x41424344), ReadOnlyBufferError);
  CHECK_THROWS_AS(buffer.set_bytes(0, std::as_bytes(std::span("xy", 2))), ReadOnlyBufferError);
  CHECK_THROWS_AS(buffer.write_u8(1), CapacityExceededError);  // full, and cannot grow
  Buffer slice = buffer.slice(2, 4);
  CHECK_THROWS_AS(slice.set_u8(0, 1), ReadOnlyBufferError);
  CHECK(buffer.readable_view() == kContent);
  CHECK(file_text(*file) == kContent);
}

TEST_CASE("rewinding the writer of a mapped region leaves nothing writable in place") {
  const auto file = content_file();
  Buffer buffer = mapped(*file);
  buffer.set_writer_index(6);
  CHECK(buffer.writable_bytes() == 0);
  CHECK(buffer.writable_span().empty());
  buffer.set_indices(0, 3);
  CHECK(buffer.writable_bytes() == 0);
  CHECK(file_text(*file) == kContent);
}

TEST_CASE("after clear, writes go to a pooled block and the file is untouched") {
  const auto file = content_file();
  Buffer buffer = mapped(*file);
  buffer.clear();
  CHECK(buffer.writable_bytes() == 0);
  buffer.write_bytes(std::string_view("new"));
  CHECK_FALSE(buffer.is_external());
  CHECK(buffer.readable_view() == "new");
  buffer.set_u8(0, 'N');
  CHECK(buffer.readable_view() == "New");
  CHECK(file_text(*file) == kContent);
}

TEST_CASE("discarding read bytes of a mapped region moves its start, not its bytes") {
  const auto file = content_file();
  Buffer buffer = mapped(*file);
  REQUIRE_FALSE(buffer.is_shared());
  buffer.skip(7);
  buffer.discard_read_bytes();
  CHECK(buffer.reader_index() == 0);
  CHECK(buffer.readable_view() == kContent.substr(7));
  CHECK(buffer.writable_bytes() == 0);
  CHECK(file_text(*file) == kContent);
}

// Past the end a mapping reads as zeros to the end of the last page, and faults (SIGBUS in the
// process) after it: such a window used to be handed out all the same.
TEST_CASE("a window reaching past the end of the file is refused") {
  const auto file = content_file();
  for (const auto& [offset, length] :
       {std::pair<std::uint64_t, std::size_t>{0, kContent.size() + 1},
        {kContent.size(), 1},
        {1, kContent.size()},
        {std::uint64_t{1} << 62, 1},
        {~std::uint64_t{0}, 2}}) {
    CAPTURE(offset);
    CAPTURE(length);
    const auto buffer = map_file_region(*file, offset, length);
    REQUIRE_FALSE(buffer);
    CHECK(buffer.error() == BufferErrc::index_out_of_bounds);
  }
  // The whole file, and its last byte, still map.
  CHECK(map_file_region(*file, 0, kContent.size()));
  CHECK(map_file_region(*file, kContent.size() - 1, 1));
}
