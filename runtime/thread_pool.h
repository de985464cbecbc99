// One pool of worker threads owned by the runtime; kernels split their loops over it.
// Results never depend on the thread count: a parallel_for partitions the range into
// disjoint pieces, and kernels write each output element from exactly one piece. The
// range is cut into several pieces per thread, which the threads claim as they finish
// their last: on a shared machine a thread that loses its core for a while leaves its
// unclaimed pieces to the others instead of holding everyone up.
//
// Between jobs a worker spins for a while before it sleeps, and so does a caller waiting
// for the workers: a training step's parallel_for calls come microseconds apart, and a
// thread woken from sleep starts ~45 us later on the 2-core VMs this was measured on
// (bench/NOTES.md, stop 39), time in which the caller works alone. The spin is
// DAGRAD_SPIN_US microseconds (default kDefaultSpinMicros; 0 never spins), and none when
// the pool has more threads than the machine, where a spinning thread takes a core from
// one with work.
#pragma once
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/function_ref.h"

namespace dagrad {

// What parallel_for calls: a reference (no allocation, whatever the lambda captures).
using RangeFn = FunctionRef<void(int64_t, int64_t)>;

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);  // num_threads includes the calling thread
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }
  int spin_micros() const { return static_cast<int>(spin_ns_ / 1000); }
  static constexpr int64_t kPiecesPerThread = 4;
  static constexpr int kDefaultSpinMicros = 200;

  // Calls fn(lo, hi) on disjoint pieces covering [begin, end), each at least `grain`
  // long (up to kPiecesPerThread per thread), claimed by the workers and the calling
  // thread as they become free; returns when all are done and rethrows
  // the first exception. Called from inside a piece, or while another thread holds the
  // pool, it runs fn(begin, end) inline, so nested use and concurrent streams are safe.
  void parallel_for(int64_t begin, int64_t end, int64_t grain, RangeFn fn);

 private:
  void worker_loop();
  void run_piece(int64_t piece);
  // Claims and runs pieces of the current job until none is left; returns how many ran.
  int64_t run_pieces();
  // Spins until done() or the spin time passes; the caller then checks under mutex_.
  template <class Done>
  void spin_until(Done&& done) const;
  bool job_finished() const { return pieces_left_.load(std::memory_order_acquire) == 0 && active_.load() == 0; }

  std::vector<std::thread> workers_;
  std::mutex submit_mutex_;  // one parallel_for at a time owns the workers
  std::mutex mutex_;
  std::condition_variable wake_;
  std::condition_variable done_;
  // Written under mutex_, read by spinning threads without it.
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stopping_{false};
  int64_t spin_ns_ = 0;
  // The job in flight.
  const RangeFn* fn_ = nullptr;
  int64_t begin_ = 0, end_ = 0, pieces_ = 0;
  std::atomic<int64_t> next_piece_{0};
  std::atomic<int64_t> pieces_left_{0};  // pieces not yet finished (written under mutex_)
  std::atomic<int> active_{0};           // workers inside the job (written under mutex_)
  std::exception_ptr error_;
};

// The process-wide pool, created on first use with `hardware threads` threads, or the
// DAGRAD_NUM_THREADS environment variable when set.
ThreadPool& thread_pool();
// Replaces the pool (not while kernels run). n <= 0 means hardware threads.
void set_num_threads(int n);
int num_threads();

inline void parallel_for(int64_t begin, int64_t end, int64_t grain, RangeFn fn) {
  thread_pool().parallel_for(begin, end, grain, fn);
}

}  // namespace dagrad
