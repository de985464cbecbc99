#include "ops/math_mode.h"

#include <atomic>

namespace dagrad {

namespace {
std::atomic<bool> g_tf32{false};
}  // namespace

void set_tf32_allowed(bool on) { g_tf32.store(on, std::memory_order_relaxed); }
bool tf32_allowed() { return g_tf32.load(std::memory_order_relaxed); }

}  // namespace dagrad
