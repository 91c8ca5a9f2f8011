#pragma once

#include "sluice/core/config.hpp"

// Debug builds of sluice (CMAKE_BUILD_TYPE=Debug, or -DSLUICE_DEBUG_CHECKS=ON) check contracts
// that release builds trust: use of a moved-from handle, calls on a loop-bound object from the
// wrong thread. The choice is made when the library is built, not by each including file's
// NDEBUG, since inline code and the compiled library must agree on it.
namespace sluice {
inline constexpr bool kDebugChecks = SLUICE_DEBUG_CHECKS != 0;
}  // namespace sluice
