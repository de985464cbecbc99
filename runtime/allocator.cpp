#include "runtime/allocator.h"

#include <cstdlib>
#include <mutex>
#include <optional>
#include <string>

#include "runtime/error.h"
#include "runtime/memory_info.h"

namespace dagrad {

namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    // aligned_alloc needs a size that is a multiple of the alignment (a size near
    // SIZE_MAX would wrap around to a tiny block: refuse it like any impossible size).
    size_t rounded = (std::max<size_t>(bytes, 1) + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* p = rounded >= bytes ? std::aligned_alloc(kCpuAlignment, rounded) : nullptr;
    if (!p) {
      std::optional<size_t> avail = system_available_bytes();
      throw OutOfMemoryError(str_cat("CPU out of memory: tried to allocate ", describe_bytes(bytes), "; dagrad has ",
                                     describe_bytes(stats().bytes_in_use), " in use and the system has ",
                                     avail ? describe_bytes(*avail) : std::string("an unknown amount"),
                                     " available (MemAvailable). Reduce the batch size or free tensors."));
    }
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use += bytes;
    stats_.reserved_bytes = stats_.bytes_in_use;
    stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.bytes_in_use);
    ++stats_.num_allocs;
    return p;
  }
  void deallocate(void* ptr, size_t bytes) override {
    if (!ptr) return;
    std::free(ptr);
    std::lock_guard lock(mutex_);
    stats_.bytes_in_use -= bytes;
    stats_.reserved_bytes = stats_.bytes_in_use;
  }
  Device device() const override { return Device::cpu(); }
  AllocatorStats stats() const override {
    std::lock_guard lock(mutex_);
    return stats_;
  }

 private:
  mutable std::mutex mutex_;
  AllocatorStats stats_;
};

}  // namespace

Allocator& cpu_allocator() {
  static CpuAllocator* alloc = new CpuAllocator;  // never destroyed: tensors may outlive statics
  return *alloc;
}

}  // namespace dagrad
