// The file server's RootDirectory: which lookup it uses, and that it still finds files when
// openat2 is refused.
#include <doctest/doctest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>

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
