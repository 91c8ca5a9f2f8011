#pragma once

namespace sluice::detail {

// 128-bit arithmetic for length computations that must not overflow: a 64-bit length field
// plus a signed adjustment always fits. (__extension__: a GCC/Clang type, not ISO C++.)
__extension__ typedef __int128 WideInt;

}  // namespace sluice::detail
