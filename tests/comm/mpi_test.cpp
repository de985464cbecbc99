// Data-parallel training under mpirun (label "mpi"): 2 and 4 ranks with batch B each end
// with the parameters of one process with batch N*B over the same data order (and
// evaluate, each its share, to the same result), for the MNIST CNN (dropout masks
// included) and LeNet-5, and a rank
// that leaves early makes the others stop with the all-reduce timeout instead of hanging.
// Runs tests/comm/dp_driver; skipped, saying why, without mpirun or an MPI build.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <tuple>

#include "comm/communicator.h"
#include "frontend/checkpoint/safetensors.h"

using namespace dagrad;
namespace fs = std::filesystem;

namespace {

struct RunResult {
  int code = -1;
  std::string output;  // stdout and stderr
  double seconds = 0;
};

RunResult run(const std::string& command) {
  auto t0 = std::chrono::steady_clock::now();
  RunResult r;
  FILE* p = popen((command + " 2>&1").c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf;
  while (size_t n = fread(buf.data(), 1, buf.size(), p)) r.output.append(buf.data(), n);
  int status = pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return r;
}

// Under timeout(1): a job that hangs fails the test (exit code 124) instead of ctest.
std::string mpirun(int ranks) {
  return str_cat("timeout 120 ", DAGRAD_MPIRUN, " --allow-run-as-root --oversubscribe -np ", ranks, " ");
}

class Mpi : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!comm::mpi_built()) GTEST_SKIP() << "this build has no MPI (install libopenmpi-dev and reconfigure)";
    if (std::string(DAGRAD_MPIRUN).empty() || !fs::exists(DAGRAD_MPIRUN))
      GTEST_SKIP() << "mpirun not found (install openmpi-bin)";
    dir_ = fs::temp_directory_path() / str_cat("dagrad_mpi_test_", ::getpid());
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  fs::path dir_;
};

// max |a - b| / (1 + |b|) over every tensor of two checkpoints with the same names.
double max_rel_diff(const fs::path& a, const fs::path& b) {
  Checkpoint x = load_safetensors(a), y = load_safetensors(b);
  EXPECT_EQ(x.tensors.size(), y.tensors.size());
  double worst = 0;
  for (const auto& [name, t] : y.tensors) {
    auto it = x.tensors.find(name);
    if (it == x.tensors.end()) {
      ADD_FAILURE() << name << " missing from " << a;
      continue;
    }
    std::vector<float> u = it->second.to_vector<float>(), v = t.to_vector<float>();
    EXPECT_EQ(u.size(), v.size()) << name;
    for (size_t i = 0; i < std::min(u.size(), v.size()); ++i)
      worst = std::max(worst, std::abs(double(u[i]) - v[i]) / (1 + std::abs(double(v[i]))));
  }
  return worst;
}

// "eval: S samples, C correct, loss L" from a driver's output.
std::tuple<int64_t, int64_t, double> eval_line(const std::string& out) {
  size_t at = out.find("eval: ");
  if (at == std::string::npos) return {-1, -1, 0};
  long long s = -1, c = -1;
  double loss = 0;
  std::sscanf(out.c_str() + at, "eval: %lld samples, %lld correct, loss %lf", &s, &c, &loss);
  return {s, c, loss};
}

}  // namespace

class MpiModels : public Mpi, public ::testing::WithParamInterface<const char*> {};

TEST_P(MpiModels, RanksWithBatchBMatchOneProcessWithBatchNB) {
  const std::string driver = str_cat(DAGRAD_DP_DRIVER, " --model ", GetParam());
  const fs::path single = dir_ / "single.safetensors", init = dir_ / "init.safetensors";
  RunResult s = run(str_cat(driver, " --batch 32 --steps 4 --out ", single));
  ASSERT_EQ(s.code, 0) << s.output;
  RunResult z = run(str_cat(driver, " --batch 32 --steps 0 --out ", init));
  ASSERT_EQ(z.code, 0) << z.output;
  const double moved = max_rel_diff(single, init);
  EXPECT_GT(moved, 1e-3) << "training did not change the parameters";
  // 2 ranks x 16 on two compute streams, 4 ranks x 8 on one; small buckets, so several.
  for (auto [ranks, streams] : {std::pair{2, 2}, std::pair{4, 1}}) {
    const fs::path dp = dir_ / str_cat("dp", ranks, ".safetensors");
    RunResult r = run(str_cat(mpirun(ranks), driver, " --batch ", 32 / ranks, " --steps 4 --streams ", streams,
                              " --bucket-mb 0.05 --out ", dp));
    ASSERT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find(str_cat("rank 0 of ", ranks)), std::string::npos) << r.output;
    // Only the order of the sums differs: float rounding, far below what training moved.
    double diff = max_rel_diff(dp, single);
    EXPECT_LT(diff, 2e-5) << ranks << " ranks differ from one process by " << diff << " (training moved " << moved
                          << ")";
    auto [samples, correct, loss] = eval_line(r.output);
    auto [samples1, correct1, loss1] = eval_line(s.output);
    EXPECT_EQ(samples, 101) << r.output;
    EXPECT_EQ(samples1, 101) << s.output;
    EXPECT_EQ(correct, correct1);
    EXPECT_NEAR(loss, loss1, 1e-5 * (1 + std::abs(loss1)));
    std::cout << GetParam() << ", " << ranks << " ranks vs 1 process: max relative difference " << diff << " ("
              << r.seconds << " s)\n";
  }
}

INSTANTIATE_TEST_SUITE_P(Models, MpiModels, ::testing::Values("mnist-cnn", "lenet5"),
                         [](const auto& info) { return info.param == std::string("mnist-cnn") ? "MnistCnn" : "Lenet5"; });

TEST_F(Mpi, ARankLeavingEarlyStopsTheOthersWithTheTimeout) {
  RunResult r = run(str_cat(mpirun(2), DAGRAD_DP_DRIVER,
                            " --model lenet5 --batch 8 --steps 3 --leave-rank 1 --leave-after 1 --timeout 2"));
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_NE(r.code, 124) << "the job hung until timeout(1) killed it:\n" << r.output;
  EXPECT_NE(r.output.find("rank 1 leaves after 1 steps"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("all-reduce timed out after 2 s waiting for other ranks (this is rank 0 of 2); a rank may "
                          "have died"),
            std::string::npos)
      << r.output;
  EXPECT_LT(r.seconds, 60) << r.output;
}
