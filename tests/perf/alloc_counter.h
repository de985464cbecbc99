// Counts heap allocations on every thread of this test executable. alloc_counter.cpp
// interposes glibc's malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign
// and valloc (operator new, the shared libraries and every thread, the runtime's pool
// workers and stream workers included, allocate through them) and counts the calls made
// between start() and stop(). The first few allocations' call stacks are kept to say
// where they came from. Not for sanitizer builds, which own malloc.
#pragma once
#include <cstdint>
#include <string>

namespace dagrad::testing::alloc_counter {

void start();     // resets the count and the recorded call stacks, then counts
int64_t stop();   // stops counting; returns the allocations since start()
// The recorded call stacks (symbol names where the executable exports them).
std::string first_stacks();

}  // namespace dagrad::testing::alloc_counter
