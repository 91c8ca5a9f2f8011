#pragma once

namespace sluice {

// Work that modules above core attach to every event-loop thread without core depending on
// them: the buffer module binds the thread's allocator arena when a loop thread starts,
// reclaims remotely freed buffers after each iteration and releases the arena when the thread
// ends. Hooks are added during static initialisation, before any loop runs.
struct LoopThreadHooks {
  void (*thread_started)() = nullptr;
  void (*iteration_ended)() = nullptr;
  void (*thread_ending)() = nullptr;
};

void add_loop_thread_hooks(const LoopThreadHooks& hooks);

}  // namespace sluice
