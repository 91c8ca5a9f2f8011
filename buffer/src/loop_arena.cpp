// Gives every event-loop thread its own allocator arena, and has each loop reclaim, once per
// iteration, the buffers other threads freed back to it (core/loop_thread_hooks.hpp).

#include <optional>

#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/loop_thread_hooks.hpp"

namespace sluice {
namespace {

thread_local std::optional<PooledAllocator::ThreadArena> t_loop_arena;

const bool registered = [] {
  add_loop_thread_hooks({
      .thread_started =
          [] {
            if (!PooledAllocator::thread_has_arena()) t_loop_arena.emplace();
          },
      .iteration_ended = [] { PooledAllocator::collect(); },
      .thread_ending = [] { t_loop_arena.reset(); },
  });
  return true;
}();

}  // namespace

// Referenced from pooled_allocator.cpp so that linking the allocator always links these hooks.
bool loop_arena_hooks_registered() noexcept {
  return registered;
}

}  // namespace sluice
