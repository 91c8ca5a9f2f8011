// The file server's RootDirectory: which lookup it uses, that it still finds files when
// openat2 is refused, and that it never opens a FIFO it is asked for.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "root_directory.hpp"

namespace {

using sluice::examples::RootDirectory;

struct Tree {
  Tree() {
    char pattern[] = "/tmp/sluice-root-dir-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
    std::ofstream(path + "/page.html") << "<p>page</p>\n";
  }
  ~Tree() { std::filesystem::remove_all(path); }
  std::string path;
};

#if defined(__x86_64__)
constexpr unsigned kArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr unsigned kArch = AUDIT_ARCH_AARCH64;
#endif

#ifdef SYS_openat2
// Makes this thread's openat2 fail with `error`, as a container's seccomp profile may, and
// allows every other call.
bool refuse_openat2(int error) {
  sock_filter program[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (static_cast<unsigned>(error) & 0xffff)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  const sock_fprog filter{static_cast<unsigned short>(sizeof program / sizeof program[0]), program};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &filter) == 0;
}

// In a child (the filter cannot be lifted): 0 when the root falls back to the walk and serves
// the file, else a code saying what went wrong.
int lookup_with_openat2_refused(const std::string& root_path, int error) {
  if (!refuse_openat2(error)) return 10;
  try {
    const RootDirectory root(root_path, true);
    if (root.uses_openat2()) return 11;
    if (!root.open("page.html").fd) return 12;
    return 0;
  } catch (...) {
    return 13;
  }
}
#endif

// A local program waiting in open(FIFO, O_WRONLY) for a reader, as a writer to a FIFO does.
// Any open of the FIFO for reading lets its open return; if that reader then closes, the
// program's next write fails with EPIPE (SIGPIPE).
class BlockedFifoWriter {
 public:
  explicit BlockedFifoWriter(std::string fifo) : fifo_(std::move(fifo)) {
    thread_ = std::thread([this] {
      tid_.store(static_cast<pid_t>(::syscall(SYS_gettid)));
      const int fd = ::open(fifo_.c_str(), O_WRONLY | O_CLOEXEC);  // blocks until a reader
      fd_.store(fd);
      opened_.store(true);
    });
    wait_until_blocked();
  }
  BlockedFifoWriter(const BlockedFifoWriter&) = delete;
  BlockedFifoWriter& operator=(const BlockedFifoWriter&) = delete;

  // Whether the writer's open has returned, given a bounded wait for it to do so.
  bool released_within(std::chrono::milliseconds wait) const {
    const auto deadline = std::chrono::steady_clock::now() + wait;
    while (!opened_.load() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return opened_.load();
  }

  // Lets the writer go by opening the read side ourselves, and cleans up.
  ~BlockedFifoWriter() {
    const int reader = ::open(fifo_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    thread_.join();
    if (fd_.load() >= 0) ::close(fd_.load());
    if (reader >= 0) ::close(reader);
  }

 private:
  // The kernel names the wait in /proc (wait_for_partner); without that, a pause stands in,
  // which can only make the test miss a wrong open, never fail a right one.
  void wait_until_blocked() const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      const pid_t tid = tid_.load();
      if (tid != 0) {
        std::string wchan;
        std::ifstream("/proc/self/task/" + std::to_string(tid) + "/wchan") >> wchan;
        if (wchan == "wait_for_partner") return;
        if (wchan.empty() || wchan == "0") break;  // not shown here
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }

  std::string fifo_;
  std::atomic<pid_t> tid_{0};
  std::atomic<int> fd_{-1};
  std::atomic<bool> opened_{false};
  std::thread thread_;
};

void check_fifo_not_opened(const RootDirectory& root, const std::string& fifo) {
  const BlockedFifoWriter writer(fifo);
  const auto entry = root.open("fifo");
  CHECK_FALSE(entry.fd);
  CHECK(S_ISFIFO(entry.info.st_mode));
  CHECK_FALSE(writer.released_within(std::chrono::milliseconds(300)));
}

}  // namespace

#if defined(SYS_openat2) && (defined(__x86_64__) || defined(__aarch64__))
TEST_CASE("openat2 refused by a seccomp filter, with ENOSYS or EPERM: the walk serves instead") {
  Tree tree;
  for (const int error : {ENOSYS, EPERM}) {
    CAPTURE(error);
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) ::_exit(lookup_with_openat2_refused(tree.path, error));
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
  }
}
#endif

TEST_CASE("with openat2 turned off, files are found by the walk") {
  Tree tree;
  const RootDirectory root(tree.path, false);
  CHECK_FALSE(root.uses_openat2());
  CHECK(root.open("page.html").fd);
}

// Every way of looking up and opening: openat2 or the walk, reopening through /proc or by a
// second lookup.
struct Mode {
  bool openat2;
  bool proc;
};
constexpr Mode kModes[] = {{true, true}, {false, true}, {true, false}, {false, false}};

// A FIFO in the tree is refused without being opened: an open for reading, even a
// non-blocking one closed at once, would release a local writer waiting for a reader and
// break its next write. A remote client could disturb local programs at will.
TEST_CASE("a FIFO beneath the root is never opened, however it is looked up") {
  Tree tree;
  const std::string fifo = tree.path + "/fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  for (const Mode mode : kModes) {
    CAPTURE(mode.openat2);
    CAPTURE(mode.proc);
    const RootDirectory root(tree.path, mode.openat2, mode.proc);
    check_fifo_not_opened(root, fifo);
  }
}

TEST_CASE(
    "regular files and directories are opened for reading, blocking; symlinks by the walk not") {
  Tree tree;
  REQUIRE(::mkdir((tree.path + "/sub").c_str(), 0755) == 0);
  std::ofstream(tree.path + "/sub/leaf.txt") << "leaf\n";
  REQUIRE(::symlink("page.html", (tree.path + "/link.html").c_str()) == 0);
  for (const Mode mode : kModes) {
    CAPTURE(mode.openat2);
    CAPTURE(mode.proc);
    const RootDirectory root(tree.path, mode.openat2, mode.proc);
    CHECK(root.uses_proc_reopen() == (mode.proc && std::filesystem::exists("/proc/self/fd")));

    const auto file = root.open("sub/leaf.txt");
    REQUIRE(file.fd);
    CHECK(S_ISREG(file.info.st_mode));
    CHECK(file.info.st_size == 5);
    // Opened for reading itself, not an O_PATH descriptor (which sendfile and pread refuse),
    // and without O_NONBLOCK, which the transfer paths do not expect.
    CHECK((::fcntl(file.fd.get(), F_GETFL) & (O_PATH | O_NONBLOCK | O_ACCMODE)) == O_RDONLY);
    CHECK((::fcntl(file.fd.get(), F_GETFD) & FD_CLOEXEC) != 0);
    char text[8] = {};
    CHECK(::pread(file.fd.get(), text, sizeof text, 0) == 5);
    CHECK(std::string(text) == "leaf\n");

    for (const char* directory : {".", "sub"}) {
      CAPTURE(directory);
      const auto entry = root.open(directory);
      REQUIRE(entry.fd);
      CHECK(S_ISDIR(entry.info.st_mode));
      CHECK((::fcntl(entry.fd.get(), F_GETFL) & (O_PATH | O_ACCMODE)) == O_RDONLY);
      char entries[4096];
      CHECK(::syscall(SYS_getdents64, entry.fd.get(), entries, sizeof entries) > 0);
    }

    const auto link = root.open("link.html");
    if (mode.openat2) {
      CHECK(link.fd);  // a symlink that stays beneath the root is followed
    } else {
      CHECK_FALSE(link.fd);
      CHECK(link.error == ELOOP);
    }
    const auto missing = root.open("missing.txt");
    CHECK_FALSE(missing.fd);
    CHECK(missing.error == ENOENT);
  }
}
