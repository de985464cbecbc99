// Per-thread scratch memory that outlives the call: kernels take their temporaries here,
// so the steady-state training step allocates nothing. Which thread runs which
// parallel_for piece varies, so every thread keeps its buffer at the largest size any
// thread has asked for, catching up at its next use even when that use needs less: once
// the sizes settle, a thread grows a buffer at most once more. Each (T, Tag) pair is one
// buffer per thread; buffers in use at the same time on one thread need different tags.
// Contents are not kept between calls: users write before reading.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstddef>
#include <vector>

namespace dagrad {

template <class T, int Tag = 0>
T* thread_buffer(size_t n) {
  thread_local std::vector<T> buf;
  static std::atomic<size_t> largest{0};
  size_t seen = largest.load(std::memory_order_relaxed);
  if (buf.size() >= n && buf.size() >= seen) return buf.data();
  while (seen < n && !largest.compare_exchange_weak(seen, n, std::memory_order_relaxed)) {
  }
  buf.resize(std::max(n, seen));
  return buf.data();
}

}  // namespace dagrad
