// CUDA Graph replay of a training step: the same losses and parameters as ordinary
// runs, dropout masks included (each replay reads its own run step).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>

#include "cuda_test_util.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/rng.h"
#include "scheduler/cuda_graph.h"
#include "scheduler/session.h"

using namespace dagrad;

namespace {

TensorMap batch(uint64_t seed) {
  Tensor images = Tensor::empty(Shape{16, 1, 28, 28});
  Generator gen(seed);
  fill_normal(images, gen, 0.0, 1.0);
  Tensor labels = Tensor::empty(Shape{16}, DType::i64);
  for (int64_t i = 0; i < 16; ++i) labels.data<int64_t>()[i] = static_cast<int64_t>(random_bits(seed, i) % 10);
  return {{"images", images}, {"labels", labels}, {"lr", Tensor::full(Shape{}, 0.05)}};
}

TrainConfig config(int streams) {
  TrainConfig cfg;
  cfg.model_name = "mnist-cnn";
  cfg.batch_size = 16;
  cfg.progress = false;
  cfg.device = Device::cuda(0);
  cfg.compile.num_streams = streams;
  return cfg;
}

}  // namespace

TEST(CudaGraph, ReplayMatchesOrdinaryRuns) {
  REQUIRE_CUDA_DEVICE();
  for (int streams : {1, 2}) {
    SCOPED_TRACE(str_cat(streams, " streams"));
    std::ostringstream log;
    Trainer plain(models::mnist_cnn(), config(streams), log), graphed(models::mnist_cnn(), config(streams), log);
    scheduler::Executor& a = plain.train_session().executor_for(batch(0));
    scheduler::Executor& b = graphed.train_session().executor_for(batch(0));
    std::vector<float> want, got;
    auto loss = [](const std::vector<Tensor>& out) { return out[0].to(Device::cpu()).data<float>()[0]; };
    for (uint64_t s = 0; s < 6; ++s) want.push_back(loss(a.run(batch(s))));
    got.push_back(loss(b.run(batch(0))));  // the warm-up run
    scheduler::CudaGraphRunner graph(b, batch(1));
    EXPECT_GT(graph.num_nodes(), 20u);
    got.push_back(loss(graph.outputs_of_capture()));
    for (uint64_t s = 2; s < 6; ++s) got.push_back(loss(graph.run(batch(s))));
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6 * (1 + std::abs(want[i]))) << "step " << i;
    for (const auto& [name, t] : plain.state())
      EXPECT_TRUE(cuda_testing::all_close(graphed.state().at(name).to(Device::cpu()), t.to(Device::cpu()), 1e-6))
          << name;
  }
}

TEST(CudaGraph, RefusesWhatItCannotReplay) {
  REQUIRE_CUDA_DEVICE();
  std::ostringstream log;
  Trainer t(models::mlp(), config(1), log);
  scheduler::Executor& ex = t.train_session().executor_for(batch(0));
  EXPECT_THROW(scheduler::CudaGraphRunner(ex, batch(0)), ValueError);  // no warm-up run yet
  ex.run(batch(0));
  TensorMap on_device = batch(1);
  on_device["images"] = on_device["images"].to(Device::cuda(0));
  EXPECT_THROW(scheduler::CudaGraphRunner(ex, on_device), ValueError);
}

TEST(CudaGraph, NeedsACudaExecutor) {
  std::ostringstream log;
  TrainConfig cfg = config(1);
  cfg.device = Device::cpu();
  Trainer t(models::mlp(), cfg, log);
  scheduler::Executor& ex = t.train_session().executor_for(batch(0));
  EXPECT_THROW(scheduler::CudaGraphRunner(ex, batch(0)), DeviceError);
}
