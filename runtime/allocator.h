#pragma once
#include <atomic>
#include <cstddef>

#include "runtime/device.h"

namespace dagrad {

struct AllocatorStats {
  size_t bytes_in_use = 0;   // currently allocated by callers
  size_t peak_bytes = 0;     // high-water mark of bytes_in_use
  size_t reserved_bytes = 0; // held from the system (>= in use for caching allocators)
  size_t num_allocs = 0;     // allocate() calls since start
};

// Raw memory for one device. Implementations are thread-safe.
class Allocator {
 public:
  virtual ~Allocator() = default;
  virtual void* allocate(size_t bytes) = 0;  // throws OutOfMemoryError with the request size
  virtual void deallocate(void* ptr, size_t bytes) = 0;
  virtual Device device() const = 0;
  virtual AllocatorStats stats() const = 0;
};

constexpr size_t kCpuAlignment = 64;  // one cache line; AVX-512 loads never split

// The process-wide CPU allocator: 64-byte aligned, counts every allocation.
Allocator& cpu_allocator();

}  // namespace dagrad
