// The gradient all-reduce on the device: in any world but the single-process one the
// allreduce_mean nodes go through NCCL (comm::device_world) on the step's streams. With
// one GPU only a world of one rank can run here: a stand-in for an MPI job of one rank,
// whose training must match training without the nodes exactly.
#include <gtest/gtest.h>

#include <sstream>

#include "comm/communicator.h"
#include "cuda_test_util.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "synthetic_data.h"

using namespace dagrad;

namespace {

class OneRankWorld final : public comm::Communicator {
 public:
  std::string name() const override { return "one-rank"; }
  int rank() const override { return 0; }
  int world_size() const override { return 1; }
  void allreduce_sum(void*, int64_t, DType, Stream*) override {}
  void broadcast(void*, int64_t, int, Stream*) override {}
  void barrier() override {}
};

std::vector<float> train_losses(bool allreduce, TensorMap* state) {
  TrainConfig cfg;
  cfg.model_name = "mnist-cnn";
  cfg.batch_size = 16;
  cfg.max_steps_per_epoch = 6;
  cfg.progress = false;
  cfg.device = Device::cuda(0);
  cfg.allreduce_in_one_process = allreduce;
  cfg.bucket_mb = 0.5;  // several buckets
  cfg.compile.num_streams = 2;
  std::ostringstream log;
  Trainer trainer(models::mnist_cnn(), cfg, log);
  trainer.train_epoch(dagrad::testing::synthetic_digits(96, 2), 0);
  for (const auto& [name, t] : trainer.state()) (*state)[name] = t.to(Device::cpu());
  return trainer.step_losses();
}

}  // namespace

TEST(CudaAllReduce, NcclInAOneRankWorldTrainsAsWithoutTheNodes) {
  REQUIRE_CUDA_DEVICE();
  if (!comm::nccl_built()) GTEST_SKIP() << "this build has no NCCL (needs nccl.h and libnccl from the CUDA toolkit)";
  TensorMap plain, reduced;
  const std::vector<float> want = train_losses(false, &plain);
  comm::set_world(std::make_unique<OneRankWorld>());
  std::vector<float> got;
  try {
    got = train_losses(true, &reduced);
    EXPECT_EQ(comm::device_world(0).name(), "nccl");  // the nodes made it
  } catch (...) {
    comm::finalize_world(1);
    throw;
  }
  comm::finalize_world(0);
  EXPECT_EQ(comm::world().name(), "single");
  EXPECT_EQ(got, want);
  EXPECT_NE(want.front(), want.back());  // it did train
  for (const auto& [name, t] : plain)
    EXPECT_EQ(reduced.at(name).to_vector<float>(), t.to_vector<float>()) << name;
}
