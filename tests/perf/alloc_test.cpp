// The steady-state training step allocates nothing: N steps of the MNIST CNN, run the way
// the trainer runs them (its Session: compiled plan with fusion and the memory plan, on
// two CPU streams and the thread pool), after warm-up, make no call to malloc and its
// relatives on any thread.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <numeric>
#include <sstream>
#include <thread>
#include <vector>

#include "alloc_counter.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"
#include "scheduler/session.h"
#include "synthetic_data.h"
#include "test_train_config.h"

using namespace dagrad;
namespace counter = dagrad::testing::alloc_counter;

namespace {

// Opaque to the optimiser, so the allocations below really happen.
void* volatile g_sink;

}  // namespace

// The hook must see allocations from operator new, from other threads and from the
// runtime's pool, or a zero below would prove nothing.
TEST(AllocCounter, CountsEveryThread) {
  set_num_threads(2);
  counter::start();
  g_sink = new int(1);
  delete static_cast<int*>(g_sink);
  std::thread([] { g_sink = std::malloc(24), std::free(g_sink); }).join();
  EXPECT_GE(counter::stop(), 3);  // the thread's state, new and malloc

  counter::start();
  parallel_for(0, 2, 1, [](int64_t lo, int64_t) {
    if (lo == 1) g_sink = std::calloc(1, 8), std::free(g_sink);
  });
  EXPECT_EQ(counter::stop(), 1) << counter::first_stacks();
  EXPECT_NE(counter::first_stacks().find("allocation 1"), std::string::npos);

  counter::start();
  EXPECT_EQ(counter::stop(), 0);
}

// A pool worker that first needs a per-thread buffer after another thread grew it (a
// kernel's epilogue it never happened to run during warm-up) finds it grown already: the
// worker caught up as it joined a job. Both pieces wait for each other, so the worker
// surely runs one of them.
TEST(AllocCounter, APoolWorkerCatchesItsBuffersUpAsItJoinsAJob) {
  set_num_threads(2);
  thread_buffer<char, 77>(1 << 20);  // grown on this thread only
  auto both_pieces = [](auto&& body) {
    std::atomic<int> started{0};
    parallel_for(0, 2, 1, [&](int64_t lo, int64_t hi) {
      started.fetch_add(static_cast<int>(hi - lo));  // both at once if run inline: no hang
      while (started.load() < 2) std::this_thread::yield();
      body();
    });
  };
  both_pieces([] {});  // the worker joins a job: it catches up here
  counter::start();
  std::atomic<bool> worker_ran{false};
  const std::thread::id caller = std::this_thread::get_id();
  both_pieces([&] {
    if (std::this_thread::get_id() != caller) worker_ran = true;
    g_sink = thread_buffer<char, 77>(16);
  });
  EXPECT_EQ(counter::stop(), 0) << counter::first_stacks();
  EXPECT_TRUE(worker_ran);
}

void check_steady_state(DType precision) {
  set_num_threads(2);
  TrainConfig cfg = dagrad::testing::test_train_config("mnist-cnn");
  cfg.batch_size = 16;
  cfg.seed = 5;
  cfg.schedule.base_lr = 0.01;
  cfg.compile.num_streams = 2;  // the optimised configuration: fusion, memory plan, 2 streams
  cfg.compile.precision = precision;
  std::ostringstream log;
  Trainer trainer(models::mnist_cnn(), cfg, log);
  scheduler::Session& session = trainer.train_session();

  // A few different batches, made before measuring (the loader runs outside the step).
  MnistDataset data = dagrad::testing::synthetic_digits(3 * cfg.batch_size, 7);
  std::vector<TensorMap> batches;
  for (int b = 0; b < 3; ++b) {
    std::vector<int64_t> idx(cfg.batch_size);
    std::iota(idx.begin(), idx.end(), b * cfg.batch_size);
    Batch batch = data.gather(idx);
    batches.push_back({{"images", batch.input}, {"labels", batch.target}, {"lr", Tensor::full(Shape{}, 0.01)}});
  }
  ASSERT_EQ(session.executor_for(batches[0]).num_streams(), 2);

  std::vector<Tensor> out;
  std::vector<float> losses;
  losses.reserve(64);
  // Warm-up: compiles, then grows the per-thread scratch buffers, until three steps in a
  // row allocate nothing (buffers follow the largest size any thread needed: 2 steps grow
  // them, so 5 steps in all).
  int warmup = 0;
  for (int clean = 0; clean < 3; ++warmup) {
    ASSERT_LT(warmup, 30) << "the per-thread buffers never stopped growing; last call stacks:\n"
                          << counter::first_stacks();
    counter::start();
    session.run(batches[warmup % batches.size()], out);
    clean = counter::stop() == 0 ? clean + 1 : 0;
    losses.push_back(out[0].data<float>()[0]);
  }
  ::testing::Test::RecordProperty("warmup_steps", warmup);
  const uint64_t step_before = session.next_step();
  constexpr int kSteps = 8;
  counter::start();
  for (int s = 0; s < kSteps; ++s) {
    session.run(batches[s % batches.size()], out);
    losses.push_back(out[0].data<float>()[0]);  // capacity reserved above: no allocation
  }
  const int64_t allocations = counter::stop();
  EXPECT_EQ(allocations, 0) << "the steady-state training step allocated (after " << warmup
                            << " warm-up steps); first call stacks:\n"
                            << counter::first_stacks();

  // The steps really ran: the counter advanced, and the loss changed from step to step.
  EXPECT_EQ(session.next_step(), step_before + kSteps);
  ASSERT_EQ(out.size(), 2u);
  int changes = 0;
  for (size_t i = 1; i < losses.size(); ++i) changes += losses[i] != losses[i - 1];
  EXPECT_GE(changes, kSteps);
  for (float l : losses) EXPECT_TRUE(std::isfinite(l));
}

TEST(SteadyState, TrainingStepAllocatesNothing) { check_steady_state(DType::f32); }

// Mixed precision adds casts and 16-bit kernels (their operand buffers are per-thread
// scratch, like the rest).
TEST(SteadyState, MixedPrecisionTrainingStepAllocatesNothing) { check_steady_state(DType::bf16); }
