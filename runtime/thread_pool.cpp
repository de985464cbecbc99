#include "runtime/thread_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <utility>

#include "runtime/thread_buffer.h"

namespace dagrad {

namespace {

thread_local bool t_inside_piece = false;

int default_spin_micros(int num_threads) {
  if (num_threads > static_cast<int>(std::thread::hardware_concurrency())) return 0;
  if (const char* env = std::getenv("DAGRAD_SPIN_US")) return std::max(0, std::atoi(env));
  return ThreadPool::kDefaultSpinMicros;
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  num_threads = std::max(1, num_threads);
  spin_ns_ = int64_t{1000} * default_spin_micros(num_threads);
  for (int i = 0; i < num_threads - 1; ++i) workers_.emplace_back([this] { worker_loop(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

template <class Done>
void ThreadPool::spin_until(Done&& done) const {
  if (spin_ns_ == 0) return;
  const auto until = std::chrono::steady_clock::now() + std::chrono::nanoseconds(spin_ns_);
  for (int i = 1; !done(); ++i) {
    cpu_relax();
    if (i % 64 == 0 && std::chrono::steady_clock::now() > until) return;
  }
}

void ThreadPool::run_piece(int64_t piece) {
  int64_t n = end_ - begin_;
  int64_t lo = begin_ + n * piece / pieces_;
  int64_t hi = begin_ + n * (piece + 1) / pieces_;
  t_inside_piece = true;
  try {
    (*fn_)(lo, hi);
  } catch (...) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::current_exception();
  }
  t_inside_piece = false;
}

int64_t ThreadPool::run_pieces() {
  int64_t ran = 0;
  for (int64_t p; (p = next_piece_.fetch_add(1, std::memory_order_relaxed)) < pieces_;) {
    run_piece(p);
    ++ran;
  }
  return ran;
}

// A worker joins a job under the mutex while it is unfinished, and the job's caller waits
// for every worker that joined to leave: no worker ever claims pieces of a job it did
// not join (the counter is reset for the next one only after all have left).
void ThreadPool::worker_loop() {
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return generation_.load(std::memory_order_acquire) != seen || stopping_.load(); });
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || generation_ != seen; });
      if (stopping_) return;
      seen = generation_;
      if (pieces_left_ == 0) continue;  // the caller finished it alone
      ++active_;
    }
    catch_up_thread_buffers();  // between jobs a worker holds none of its buffers
    const int64_t ran = run_pieces();
    std::lock_guard lock(mutex_);
    pieces_left_ -= ran;
    if (--active_ == 0 && pieces_left_ == 0) done_.notify_one();
  }
}

void ThreadPool::parallel_for(int64_t begin, int64_t end, int64_t grain, RangeFn fn) {
  if (end <= begin) return;
  grain = std::max<int64_t>(grain, 1);
  int64_t pieces = std::min<int64_t>(num_threads() * kPiecesPerThread, (end - begin + grain - 1) / grain);
  std::unique_lock submit(submit_mutex_, std::defer_lock);
  if (pieces <= 1 || num_threads() == 1 || t_inside_piece || !submit.try_lock()) {
    fn(begin, end);
    return;
  }
  {
    std::lock_guard lock(mutex_);
    fn_ = &fn;
    begin_ = begin;
    end_ = end;
    pieces_ = pieces;
    pieces_left_ = pieces;
    next_piece_.store(1, std::memory_order_relaxed);  // piece 0 is the caller's, below
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  // The caller runs at least one piece of every job, even when the workers are quicker:
  // its per-thread buffers then grow to a kernel's sizes in the first step, never later,
  // so the steady state allocates nothing (runtime/thread_buffer.h).
  run_piece(0);
  const int64_t ran = 1 + run_pieces();
  {
    std::lock_guard lock(mutex_);
    pieces_left_ -= ran;
  }
  spin_until([&] { return job_finished(); });
  std::unique_lock lock(mutex_);
  done_.wait(lock, [&] { return job_finished(); });
  fn_ = nullptr;
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

namespace {
int default_threads() {
  if (const char* env = std::getenv("DAGRAD_NUM_THREADS")) {
    int n = std::atoi(env);
    if (n > 0) return n;
  }
  return std::max(1u, std::thread::hardware_concurrency());
}
std::unique_ptr<ThreadPool>& pool_slot() {
  static std::unique_ptr<ThreadPool> pool;
  return pool;
}
}  // namespace

ThreadPool& thread_pool() {
  auto& p = pool_slot();
  if (!p) p = std::make_unique<ThreadPool>(default_threads());
  return *p;
}

void set_num_threads(int n) {
  int want = n > 0 ? n : default_threads();
  auto& p = pool_slot();
  if (p && p->num_threads() == want) return;
  p.reset();
  p = std::make_unique<ThreadPool>(want);
}

int num_threads() { return thread_pool().num_threads(); }

}  // namespace dagrad
