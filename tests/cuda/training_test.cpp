// Training on the GPU: the MNIST CNN's loss curve on CUDA follows the CPU's (same
// initialisation, same batches, same dropout masks), with the scheduler's fused kernels
// and several streams; evaluation and checkpoints work from device state.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <sstream>

#include "cuda_test_util.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "synthetic_data.h"
#include "test_train_config.h"

using namespace dagrad;

namespace {

TrainConfig config(Device device, int streams) {
  TrainConfig cfg = dagrad::testing::test_train_config("mnist-cnn");
  cfg.max_steps_per_epoch = 15;
  cfg.compile.num_streams = streams;
  cfg.device = device;
  return cfg;
}

}  // namespace

TEST(CudaTraining, MnistCnnFollowsTheCpuLossCurve) {
  REQUIRE_CUDA_DEVICE();
  MnistDataset train = dagrad::testing::synthetic_digits(480, 1);
  std::ostringstream log;
  Trainer cpu(models::mnist_cnn(), config(Device::cpu(), 1), log);
  cpu.train_epoch(train, 0);
  for (int streams : {1, 2}) {
    SCOPED_TRACE(str_cat(streams, " streams"));
    Trainer gpu(models::mnist_cnn(), config(Device::cuda(0), streams), log);
    gpu.train_epoch(train, 0);
    const std::vector<float>& want = cpu.step_losses();
    const std::vector<float>& got = gpu.step_losses();
    ASSERT_EQ(got.size(), want.size());
    // float32 GEMMs sum in another order on the GPU; the difference grows slowly with
    // the steps and stays far below the curve's own movement.
    for (size_t i = 0; i < want.size(); ++i)
      EXPECT_NEAR(got[i], want[i], 2e-3 * (1 + std::abs(want[i]))) << "step " << i;
    EXPECT_LT(got.back(), got.front());
  }
}

TEST(CudaTraining, EvaluateAndCheckpointFromTheDevice) {
  REQUIRE_CUDA_DEVICE();
  MnistDataset train = dagrad::testing::synthetic_digits(320, 3), test = dagrad::testing::synthetic_digits(100, 4);
  std::ostringstream log;
  Trainer gpu(models::mnist_cnn(), config(Device::cuda(0), 1), log);
  gpu.train_epoch(train, 0);
  const EvalResult on_gpu = gpu.evaluate(test);
  const std::filesystem::path path =
      std::filesystem::temp_directory_path() / str_cat("dagrad_cuda_test_", ::getpid(), ".safetensors");
  gpu.save(path);
  Trainer cpu(models::mnist_cnn(), config(Device::cpu(), 1), log);
  cpu.load_parameters(path);
  std::filesystem::remove(path);
  const EvalResult on_cpu = cpu.evaluate(test);
  EXPECT_NEAR(on_gpu.loss, on_cpu.loss, 1e-3 * (1 + on_cpu.loss));
  EXPECT_NEAR(on_gpu.score("accuracy"), on_cpu.score("accuracy"), 0.011);  // at most one image of 100 may flip
  const Tensor images = test.gather(std::vector<int64_t>{0, 1, 2}).input;
  EXPECT_TRUE(cuda_testing::all_close(gpu.predict(images), cpu.predict(images), 1e-3));
}

// Mixed precision on the GPU (bfloat16 tensor-core products, float32 accumulation) against
// the CPU's mixed precision: the same casts round the same values, so the two curves
// differ only by the products' summation order, as in float32 (above), plus bfloat16
// roundings that order may flip; both stay within 2% of each other over the epoch.
TEST(CudaTraining, MixedPrecisionFollowsTheCpu) {
  REQUIRE_CUDA_DEVICE();
  MnistDataset train = dagrad::testing::synthetic_digits(480, 1);
  std::ostringstream log;
  TrainConfig c = config(Device::cpu(), 1), g = config(Device::cuda(0), 1);
  c.compile.precision = g.compile.precision = DType::bf16;
  Trainer cpu(models::mnist_cnn(), c, log), gpu(models::mnist_cnn(), g, log);
  cpu.train_epoch(train, 0);
  gpu.train_epoch(train, 0);
  ASSERT_EQ(gpu.step_losses().size(), cpu.step_losses().size());
  for (size_t i = 0; i < cpu.step_losses().size(); ++i)
    EXPECT_NEAR(gpu.step_losses()[i], cpu.step_losses()[i], 0.02 * (1 + std::abs(cpu.step_losses()[i]))) << "step " << i;
  EXPECT_LT(gpu.step_losses().back(), gpu.step_losses().front());
}
