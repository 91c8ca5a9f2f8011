// The file server's FileHandler behind the HTTP codec, through an EmbeddedChannel: a request
// in, the status of its response out.
#include <doctest/doctest.h>
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>

#include "file_handler.hpp"
#include "root_directory.hpp"
#include "sluice/buffer/buffer.hpp"
#include "sluice/channel/embedded_channel.hpp"
#include "sluice/codec/http/http_server_codec.hpp"

namespace {

using namespace sluice;
using namespace sluice::examples;

struct Tree {
  Tree() {
    char pattern[] = "/tmp/sluice-file-handler-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~Tree() { std::filesystem::remove_all(path); }
  std::string path;
};

// The status of the first response to `request` (a whole request head) from a FileHandler
// serving `root`, or 0 when nothing was written.
int status_of(const std::string& root, std::string_view request) {
  auto config = std::make_shared<FileServerConfig>();
  config->root = std::make_unique<RootDirectory>(root, true);
  std::shared_ptr<const FileServerConfig> shared = std::move(config);
  auto channel = EmbeddedChannel::create([shared](Pipeline& pipeline) {
    pipeline.add_last("http", std::make_unique<http::HttpServerCodec>());
    pipeline.add_last("files", std::make_unique<FileHandler>(shared));
  });
  channel->write_inbound(Buffer::copy_of(request));
  int status = 0;
  Message head = channel->read_outbound();
  if (const auto* bytes = head.get_if<Buffer>()) {
    const auto span = bytes->readable_span();
    const std::string_view text(reinterpret_cast<const char*>(span.data()), span.size());
    if (text.starts_with("HTTP/1.1 ") && text.size() >= 12) {
      status = std::atoi(std::string(text.substr(9, 3)).c_str());
    }
  }
  head = Message();
  while (channel->read_outbound()) {
  }
  channel->finish();
  return status;
}

// Runs `statuses` in a child process without privileges (root reads and searches whatever
// the permissions say), and returns what it printed; empty when privileges cannot be dropped.
template <typename Body>
std::string unprivileged(Body&& statuses) {
  int ends[2];
  REQUIRE(::pipe(ends) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::close(ends[0]);
    if (::geteuid() == 0) {
      constexpr uid_t kNobody = 65534;
      if (::setgroups(0, nullptr) != 0 || ::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) {
        ::_exit(0);
      }
    }
    // Nothing may leave this block: the child must not go on running the parent's tests.
    try {
      const std::string text = statuses();
      const ssize_t written = ::write(ends[1], text.data(), text.size());
      ::_exit(written == static_cast<ssize_t>(text.size()) ? 0 : 1);
    } catch (...) {
      ::_exit(2);
    }
  }
  ::close(ends[1]);
  std::string out;
  char chunk[256];
  for (ssize_t got; (got = ::read(ends[0], chunk, sizeof chunk)) > 0;) {
    out.append(chunk, static_cast<std::size_t>(got));
  }
  ::close(ends[0]);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  return out;
}

}  // namespace

// A directory may be searched without being read (mode 0711, as home directories often are):
// its files, index.html among them, open all the same. The handler used to open the directory
// for reading before anything else, and answered 403 to its URL, with or without the '/'.
TEST_CASE("a directory that can be searched but not read serves its index and redirects") {
  Tree tree;
  REQUIRE(::chmod(tree.path.c_str(), 0711) == 0);
  const std::string locked = tree.path + "/locked";
  REQUIRE(::mkdir(locked.c_str(), 0711) == 0);
  std::ofstream(locked + "/index.html") << "<p>index</p>\n";
  REQUIRE(::chmod((locked + "/index.html").c_str(), 0644) == 0);
  const std::string bare = tree.path + "/bare";
  REQUIRE(::mkdir(bare.c_str(), 0711) == 0);
  REQUIRE(::chmod(locked.c_str(), 0711) == 0);  // whatever the umask took away
  REQUIRE(::chmod(bare.c_str(), 0711) == 0);

  const std::string statuses = unprivileged([&] {
    std::string out;
    for (const char* target : {"/locked/", "/locked", "/locked/index.html", "/bare/"}) {
      out += std::to_string(
          status_of(tree.path, std::string("GET ") + target + " HTTP/1.1\r\nHost: a\r\n\r\n"));
      out += ' ';
    }
    return out;
  });
  if (statuses.empty()) {
    MESSAGE("skipped: privileges could not be dropped");
    return;
  }
  // The index, the redirect to it, the file itself; a listing is what the mode forbids.
  CHECK(statuses == "200 301 200 403 ");
}
