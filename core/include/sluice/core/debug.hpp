#pragma once

// Debug builds (no NDEBUG) check contracts that release builds trust: use of a moved-from
// handle, calls on a loop-bound object from the wrong thread.
namespace sluice {
#ifdef NDEBUG
inline constexpr bool kDebugChecks = false;
#else
inline constexpr bool kDebugChecks = true;
#endif
}  // namespace sluice
