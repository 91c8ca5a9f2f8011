// Gives every event-loop thread its own allocator arena, and has each loop reclaim, once per
// iteration, the buffers other threads freed back to it, and trim the arena every
// PooledAllocator::loop_trim_period() (core/loop_thread_hooks.hpp).

#include <chrono>
#include <optional>

#include "sluice/buffer/pooled_allocator.hpp"
#include "sluice/core/event_loop.hpp"
#include "sluice/core/loop_thread_hooks.hpp"
#include "sluice/core/scheduled_task.hpp"

namespace sluice {
namespace {

thread_local std::optional<PooledAllocator::ThreadArena> t_loop_arena;
thread_local ScheduledTask t_loop_trim;

const bool registered = [] {
  add_loop_thread_hooks({
      .thread_started =
          [] {
            if (!PooledAllocator::thread_has_arena()) t_loop_arena.emplace();
            const std::chrono::milliseconds period = PooledAllocator::loop_trim_period();
            if (EventLoop* loop = EventLoop::current(); loop != nullptr && period.count() > 0) {
              t_loop_trim = loop->schedule_every(period, [] { PooledAllocator::trim(); });
            }
          },
      .iteration_ended = [] { PooledAllocator::collect(); },
      .thread_ending =
          [] {
            t_loop_trim = ScheduledTask();  // its timer is closed already, with the loop's
            t_loop_arena.reset();
          },
  });
  return true;
}();

}  // namespace

// Referenced from pooled_allocator.cpp so that linking the allocator always links these hooks.
bool loop_arena_hooks_registered() noexcept {
  return registered;
}

}  // namespace sluice
