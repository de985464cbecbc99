#include "alloc_counter.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <execinfo.h>

#include <atomic>
#include <memory>

// glibc's own entry points, which the interposed functions forward to.
extern "C" {
void* __libc_malloc(size_t size);
void* __libc_calloc(size_t count, size_t size);
void* __libc_realloc(void* ptr, size_t size);
void* __libc_memalign(size_t alignment, size_t size);
void* __libc_valloc(size_t size);
void __libc_free(void* ptr);
}

namespace {

constexpr int kStacks = 4;
constexpr int kDepth = 32;

std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_count{0};
void* g_stack[kStacks][kDepth];
int g_stack_len[kStacks];
thread_local bool t_in_hook = false;  // backtrace() may allocate: do not count that

void note_allocation() {
  if (!g_counting.load(std::memory_order_relaxed) || t_in_hook) return;
  t_in_hook = true;
  int64_t k = g_count.fetch_add(1, std::memory_order_relaxed);
  if (k < kStacks) g_stack_len[k] = backtrace(g_stack[k], kDepth);
  t_in_hook = false;
}

bool valid_alignment(size_t a) { return a != 0 && (a & (a - 1)) == 0 && a % sizeof(void*) == 0; }

}  // namespace

extern "C" {

void* malloc(size_t size) {
  note_allocation();
  return __libc_malloc(size);
}

void* calloc(size_t count, size_t size) {
  note_allocation();
  return __libc_calloc(count, size);
}

void* realloc(void* ptr, size_t size) {
  note_allocation();
  return __libc_realloc(ptr, size);
}

void free(void* ptr) { __libc_free(ptr); }

int posix_memalign(void** out, size_t alignment, size_t size) {
  if (!valid_alignment(alignment)) return EINVAL;
  note_allocation();
  void* p = __libc_memalign(alignment, size);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}

void* aligned_alloc(size_t alignment, size_t size) {
  note_allocation();
  return __libc_memalign(alignment, size);
}

void* memalign(size_t alignment, size_t size) {
  note_allocation();
  return __libc_memalign(alignment, size);
}

void* valloc(size_t size) {
  note_allocation();
  return __libc_valloc(size);
}

}  // extern "C"

namespace dagrad::testing::alloc_counter {

void start() {
  // The first backtrace() loads the unwinder (allocating): do it before counting.
  static const bool warmed = [] {
    void* frames[2];
    backtrace(frames, 2);
    return true;
  }();
  (void)warmed;
  g_count.store(0);
  for (int& n : g_stack_len) n = 0;
  g_counting.store(true);
}

int64_t stop() {
  g_counting.store(false);
  return g_count.load();
}

std::string first_stacks() {
  std::string out;
  for (int k = 0; k < kStacks && g_stack_len[k] > 0; ++k) {
    out += "allocation " + std::to_string(k + 1) + ":\n";
    std::unique_ptr<char*, void (*)(void*)> names(backtrace_symbols(g_stack[k], g_stack_len[k]), std::free);
    for (int i = 0; i < g_stack_len[k]; ++i) out += std::string("  ") + (names ? names.get()[i] : "?") + "\n";
  }
  return out;
}

}  // namespace dagrad::testing::alloc_counter
