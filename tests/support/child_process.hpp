#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <doctest/doctest.h>

#include <csignal>
#include <string>
#include <utility>

namespace sluice::test {

// What a child process ended with: its wait status and what it wrote to stderr.
struct ChildOutcome {
  int status = 0;
  std::string stderr_text;

  bool aborted() const { return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT; }
};

// Runs `body` in a forked child, for behaviour that ends the process (an abort that names a
// misuse). The child exits 0 if `body` returns; it must not throw.
template <typename Body>
ChildOutcome run_in_child(Body&& body) {
  int output_pipe[2];
  REQUIRE(::pipe(output_pipe) == 0);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::dup2(output_pipe[1], STDERR_FILENO);
    std::signal(SIGABRT, SIG_DFL);  // doctest's crash report would go to the parent's output
    std::forward<Body>(body)();
    ::_exit(0);
  }
  ::close(output_pipe[1]);
  ChildOutcome outcome;
  REQUIRE(::waitpid(child, &outcome.status, 0) == child);
  char chunk[512];
  for (ssize_t n; (n = ::read(output_pipe[0], chunk, sizeof chunk)) > 0;)
    outcome.stderr_text.append(chunk, static_cast<std::size_t>(n));
  ::close(output_pipe[0]);
  return outcome;
}

}  // namespace sluice::test
