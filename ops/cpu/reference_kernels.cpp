#include "ops/cpu/reference_kernels.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace dagrad {

namespace {
std::atomic<bool>& flag() {
  static std::atomic<bool> on = [] {
    const char* env = std::getenv("DAGRAD_REFERENCE_KERNELS");
    return env != nullptr && *env != '\0' && std::strcmp(env, "0") != 0;
  }();
  return on;
}
}  // namespace

bool reference_kernels() { return flag().load(std::memory_order_relaxed); }
void set_reference_kernels(bool on) { flag().store(on, std::memory_order_relaxed); }

}  // namespace dagrad
