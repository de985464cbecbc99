#include "runtime/thread_buffer.h"

#include <mutex>

namespace dagrad {

namespace thread_buffer_detail {

std::atomic<uint64_t> epoch{0};

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<void (*)()>& registry() {
  static std::vector<void (*)()> r;
  return r;
}
}  // namespace

void register_catch_up(void (*catch_up)()) {
  std::lock_guard lock(registry_mutex());
  registry().push_back(catch_up);
  epoch.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace thread_buffer_detail

void catch_up_thread_buffers() {
  namespace d = thread_buffer_detail;
  thread_local uint64_t caught_up = 0;
  const uint64_t now = d::epoch.load(std::memory_order_relaxed);
  if (now == caught_up) return;
  std::lock_guard lock(d::registry_mutex());
  for (void (*catch_up)() : d::registry()) catch_up();
  caught_up = now;
}

}  // namespace dagrad
