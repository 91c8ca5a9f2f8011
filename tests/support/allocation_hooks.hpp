#pragma once

#include <cstddef>

// The test programs that link allocation_hooks.cpp replace operator new with one that counts
// each thread's allocations and can be told to refuse some, so that a test can check that a
// steady state allocates nothing, or make an operation run out of memory partway through.
namespace sluice::test {

// Every operator new made on the calling thread (refused ones not included).
extern thread_local std::size_t allocations_made;
// Set: the calling thread's next operator new throws std::bad_alloc, and clears it.
extern thread_local bool refuse_next_allocation;
// Non-zero: the calling thread's operator new throws std::bad_alloc for this many bytes or more.
extern thread_local std::size_t refuse_allocations_from;

}  // namespace sluice::test
