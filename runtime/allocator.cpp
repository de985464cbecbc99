#include "runtime/allocator.h"

#include <cstdlib>
#include <mutex>

#include "runtime/error.h"

namespace dagrad {

namespace {

class CpuAllocator final : public Allocator {
 public:
  void* allocate(size_t bytes) override {
    // aligned_alloc needs a size that is a multiple of the alignment.
    size_t rounded = (std::max<size_t>(bytes, 1) + kCpuAlignment - 1) / kCpuAlignment * kCpuAlignment;
    void* p = std::aligned_alloc(kCpuAlignment, rounded);
    if (!p)
      throw OutOfMemoryError(str_cat("CPU allocation of ", bytes, " bytes failed (", stats().bytes_in_use,
                                     " bytes already in use by dagrad)"));
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
