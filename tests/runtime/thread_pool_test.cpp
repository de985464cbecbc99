#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <numeric>
#include <set>
#include <string>
#include <thread>

#include "runtime/error.h"

using namespace dagrad;

TEST(ThreadPool, CoversRangeExactlyOnce) {
  ThreadPool pool(4);
  for (int64_t n : {0, 1, 7, 100, 10007}) {
    std::vector<std::atomic<int>> hits(n);
    pool.parallel_for(0, n, 3, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) hits[i]++;
    });
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(hits[i].load(), 1) << "n=" << n << " i=" << i;
  }
}

TEST(ThreadPool, ComputesSumAndUsesSeveralThreads) {
  ThreadPool pool(3);
  std::vector<int64_t> partial(3, 0);
  std::mutex m;
  std::set<std::thread::id> ids;
  int pieces = 0;
  pool.parallel_for(0, 300000, 1, [&](int64_t lo, int64_t hi) {
    int64_t s = 0;
    for (int64_t i = lo; i < hi; ++i) s += i;
    // Long enough that the workers, woken at the start, claim pieces too.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::lock_guard lock(m);
    partial.push_back(s);
    ids.insert(std::this_thread::get_id());
    ++pieces;
  });
  int64_t total = std::accumulate(partial.begin(), partial.end(), int64_t{0});
  EXPECT_EQ(total, int64_t{300000} * 299999 / 2);
  EXPECT_EQ(pieces, 3 * ThreadPool::kPiecesPerThread);
  EXPECT_EQ(ids.size(), 3u);
}

// Pieces are claimed as threads become free: while one thread is stuck in a slow piece,
// the others take the rest, so the slow one runs no second piece.
TEST(ThreadPool, FreeThreadsTakeTheRemainingPieces) {
  ThreadPool pool(2);
  std::mutex m;
  std::map<std::thread::id, int> per_thread;
  std::atomic<bool> first{true};
  pool.parallel_for(0, 8, 1, [&](int64_t, int64_t) {
    const bool slow = first.exchange(false);
    std::this_thread::sleep_for(std::chrono::milliseconds(slow ? 400 : 5));
    std::lock_guard lock(m);
    ++per_thread[std::this_thread::get_id()];
  });
  ASSERT_EQ(per_thread.size(), 2u);
  int total = 0, least = 8;
  for (const auto& [id, n] : per_thread) total += n, least = std::min(least, n);
  EXPECT_EQ(total, 8);
  EXPECT_EQ(least, 1) << "the thread with the slow piece should have run only that one";
}

// Sets an environment variable for one scope.
struct ScopedEnv {
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    value ? setenv(name, value, 1) : unsetenv(name);
  }
  ~ScopedEnv() { old_.empty() ? unsetenv(name_) : setenv(name_, old_.c_str(), 1); }
  const char* name_;
  std::string old_;
};

TEST(ThreadPool, SpinsOnlyWhereTheMachineHasTheCores) {
  {
    ScopedEnv env("DAGRAD_SPIN_US", nullptr);
    EXPECT_EQ(ThreadPool(1).spin_micros(), ThreadPool::kDefaultSpinMicros);
    const int more_than_cores = static_cast<int>(std::thread::hardware_concurrency()) + 1;
    EXPECT_EQ(ThreadPool(more_than_cores).spin_micros(), 0);
  }
  {
    ScopedEnv env("DAGRAD_SPIN_US", "37");
    EXPECT_EQ(ThreadPool(1).spin_micros(), 37);
  }
  {
    ScopedEnv env("DAGRAD_SPIN_US", "0");
    EXPECT_EQ(ThreadPool(1).spin_micros(), 0);
  }
}

// Every job is done exactly once whether the worker finds it while still spinning after
// the last one (back-to-back jobs) or is woken from sleep (a pause longer than the spin),
// and in both cases the worker takes part.
TEST(ThreadPool, WorkersJoinJobsWhileSpinningAndAfterSleeping) {
  if (std::thread::hardware_concurrency() < 2) GTEST_SKIP() << "needs 2 hardware threads to spin";
  for (const char* spin : {"200", "0"}) {
    ScopedEnv env("DAGRAD_SPIN_US", spin);
    ThreadPool pool(2);
    ASSERT_EQ(pool.spin_micros(), std::atoi(spin));
    for (int job = 0; job < 2000; ++job) {
      std::atomic<int64_t> sum{0};
      pool.parallel_for(0, job % 50, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) sum += i;
      });
      ASSERT_EQ(sum.load(), int64_t{job % 50} * (job % 50 - 1) / 2) << "job " << job << ", spin " << spin;
    }
    for (const int pause_ms : {0, 20}) {
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
      std::mutex m;
      std::set<std::thread::id> ids;
      pool.parallel_for(0, 2, 1, [&](int64_t, int64_t) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        std::lock_guard lock(m);
        ids.insert(std::this_thread::get_id());
      });
      EXPECT_EQ(ids.size(), 2u) << "pause " << pause_ms << " ms, spin " << spin;
    }
  }
}

TEST(ThreadPool, NestedCallsRunInline) {
  ThreadPool pool(2);
  std::atomic<int64_t> sum{0};
  pool.parallel_for(0, 4, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i)
      pool.parallel_for(0, 10, 1, [&](int64_t a, int64_t b) { sum += b - a; });
  });
  EXPECT_EQ(sum.load(), 40);
}

TEST(ThreadPool, PropagatesExceptions) {
  ThreadPool pool(2);
  EXPECT_THROW(pool.parallel_for(0, 100, 1,
                                 [&](int64_t lo, int64_t) {
                                   if (lo > 0) throw ValueError("boom");
                                 }),
               ValueError);
  // The pool still works afterwards.
  std::atomic<int> n{0};
  pool.parallel_for(0, 10, 1, [&](int64_t lo, int64_t hi) { n += hi - lo; });
  EXPECT_EQ(n.load(), 10);
}

TEST(ThreadPool, GlobalPoolResizes) {
  set_num_threads(3);
  EXPECT_EQ(num_threads(), 3);
  set_num_threads(1);
  EXPECT_EQ(num_threads(), 1);
  set_num_threads(0);
  EXPECT_GE(num_threads(), 1);
}
