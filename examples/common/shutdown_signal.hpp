#pragma once

#include <pthread.h>
#include <signal.h>

namespace sluice::examples {

// Blocks SIGINT and SIGTERM in the calling thread and every thread it starts afterwards, so
// that wait_for_shutdown_signal() can take them synchronously. Call first thing in main.
inline void block_shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

// Waits for SIGINT or SIGTERM; returns the signal number.
inline int wait_for_shutdown_signal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int signal_number = 0;
  sigwait(&set, &signal_number);
  return signal_number;
}

}  // namespace sluice::examples
