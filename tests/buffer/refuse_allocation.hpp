#pragma once

// The test programs that link refuse_allocation.cpp replace operator new with one that can be
// told to refuse the next allocation on the calling thread, so that a test can make an
// operation run out of memory partway through.
namespace sluice::test {

// Set to make the calling thread's next operator new throw std::bad_alloc; cleared by it.
extern thread_local bool refuse_next_allocation;

}  // namespace sluice::test
