// Per-thread scratch memory that outlives the call: kernels take their temporaries here,
// so the steady-state training step allocates nothing. Which thread runs which
// parallel_for piece varies, so every thread keeps its buffer at the largest size any
// thread has asked for. A thread catches up at its next use, and a pool worker also as it
// joins a job (catch_up_thread_buffers): a worker that first runs some kernel only after
// the sizes settled (an epilogue it never happened to run before) then finds its buffers
// grown already. Each (T, Tag) pair is one buffer per thread; buffers in use at the same
// time on one thread need different tags. Contents are not kept between calls: users
// write before reading. Buffers start on a cache line (kThreadBufferAlignment), so a
// kernel whose threads fill separate line-sized slices of one buffer shares no line
// between them (false sharing doubled layer_norm_backward's time, bench/NOTES.md stop 41).
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace dagrad {

inline constexpr size_t kThreadBufferAlignment = 64;

// n elements of T rounded up to whole cache lines: a slice stride that keeps slices apart.
template <class T>
constexpr int64_t line_padded(int64_t n) {
  constexpr int64_t line = static_cast<int64_t>(kThreadBufferAlignment / sizeof(T));
  return (n + line - 1) / line * line;
}

namespace thread_buffer_detail {
template <class T>
struct LineAligned {
  using value_type = T;
  LineAligned() = default;
  template <class U>
  LineAligned(const LineAligned<U>&) {}
  T* allocate(size_t n) {
    return static_cast<T*>(::operator new (n * sizeof(T), std::align_val_t{kThreadBufferAlignment}));
  }
  void deallocate(T* p, size_t) { ::operator delete (p, std::align_val_t{kThreadBufferAlignment}); }
  template <class U>
  bool operator==(const LineAligned<U>&) const {
    return true;
  }
};

// Bumped whenever a largest size grows or a kind of buffer appears.
extern std::atomic<uint64_t> epoch;
// Adds a function that brings the calling thread's buffer of one kind to its largest size.
void register_catch_up(void (*catch_up)());

// Raises `largest` to at least n and returns the size a thread's buffer should then have;
// a rise moves the epoch, so that pool workers catch up.
inline size_t grown_size(std::atomic<size_t>& largest, size_t n) {
  size_t seen = largest.load(std::memory_order_relaxed);
  while (seen < n && !largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  if (n > seen) epoch.fetch_add(1, std::memory_order_relaxed);
  return std::max(n, seen);
}
}  // namespace thread_buffer_detail

// Brings every per-thread buffer of the calling thread to the largest size any thread has
// asked for; nothing (one atomic load) when no size grew since this thread last did. It may
// move any of them: only for a thread that holds none (a pool worker between jobs).
void catch_up_thread_buffers();

template <class T, int Tag = 0>
T* thread_buffer(size_t n) {
  thread_local std::vector<T, thread_buffer_detail::LineAligned<T>> buf;
  static std::atomic<size_t> largest{0};
  if (buf.size() >= n && buf.size() >= largest.load(std::memory_order_relaxed)) return buf.data();
  static const bool registered = [] {  // a kind registers as it first grows
    thread_buffer_detail::register_catch_up([] { thread_buffer<T, Tag>(0); });
    return true;
  }();
  (void)registered;
  buf.resize(thread_buffer_detail::grown_size(largest, n));
  return buf.data();
}

}  // namespace dagrad
