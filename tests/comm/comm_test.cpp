// The communicator interface in one process: the single-process world, the MPI launch
// detection, argument checks, and the NCCL path (on a GPU; skipped, saying why, elsewhere).
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "frontend/data_parallel.h"
#include "runtime/backend.h"
#include "runtime/tensor.h"
#include "tests/error_of.h"

using namespace dagrad;
using dagrad::testing::error_of;

namespace {

// Sets an environment variable for one scope, restoring the old value.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old, had_ = true;
    if (value) setenv(name, value, 1);
    else unsetenv(name);
  }
  ~ScopedEnv() {
    if (had_) setenv(name_.c_str(), old_.c_str(), 1);
    else unsetenv(name_.c_str());
  }

 private:
  std::string name_, old_;
  bool had_ = false;
};

}  // namespace

TEST(Comm, TheDefaultWorldIsOneProcess) {
  comm::Communicator& w = comm::world();
  EXPECT_EQ(w.name(), "single");
  EXPECT_EQ(w.rank(), 0);
  EXPECT_EQ(w.world_size(), 1);
  std::vector<float> x{1.5f, -2.0f, 3.25f};
  w.allreduce_sum(x.data(), 3, DType::f32);  // the sum over one rank
  EXPECT_EQ(x, (std::vector<float>{1.5f, -2.0f, 3.25f}));
  w.broadcast(x.data(), 12, 0);
  w.barrier();
  EXPECT_EQ(x[2], 3.25f);
  EXPECT_NE(error_of<ValueError>([&] { w.broadcast(x.data(), 12, 1); }).find("root 1 is not a rank"),
            std::string::npos);
}

TEST(Comm, TimeoutMustBePositive) {
  auto c = comm::make_single_process();
  EXPECT_EQ(c->timeout(), 300);
  c->set_timeout(2.5);
  EXPECT_EQ(c->timeout(), 2.5);
  EXPECT_NE(error_of<ValueError>([&] { c->set_timeout(0); }).find("positive number of seconds, got 0"),
            std::string::npos);
  EXPECT_THROW(c->set_timeout(-1), ValueError);
}

TEST(Comm, SetWorldInstallsAndFinalizeRestoresOneProcess) {
  auto c = comm::make_single_process();
  c->set_timeout(7);
  comm::set_world(std::move(c));
  EXPECT_EQ(comm::world().timeout(), 7);
  comm::finalize_world(0);
  EXPECT_EQ(comm::world().timeout(), 300);
  EXPECT_THROW(comm::set_world(nullptr), ValueError);
}

TEST(Comm, DetectsMpirunFromItsEnvironment) {
  ScopedEnv a("OMPI_COMM_WORLD_SIZE", nullptr), b("PMIX_RANK", nullptr), c("PMI_RANK", nullptr),
      d("PMI_SIZE", nullptr), e("MPI_LOCALNRANKS", nullptr), f("OMPI_COMM_WORLD_LOCAL_SIZE", nullptr),
      g("OMPI_COMM_WORLD_LOCAL_RANK", nullptr), h("MPI_LOCALRANKID", nullptr);
  EXPECT_FALSE(comm::launched_by_mpi());
  EXPECT_EQ(comm::local_world_size(), 1);
  EXPECT_EQ(comm::local_rank(), 0);
  {
    ScopedEnv on("OMPI_COMM_WORLD_SIZE", "4"), local("OMPI_COMM_WORLD_LOCAL_SIZE", "4"),
        rank("OMPI_COMM_WORLD_LOCAL_RANK", "3");
    EXPECT_TRUE(comm::launched_by_mpi());
    EXPECT_EQ(comm::local_world_size(), 4);
    EXPECT_EQ(comm::local_rank(), 3);
  }
  {
    ScopedEnv on("PMIX_RANK", "0"), local("OMPI_COMM_WORLD_LOCAL_SIZE", "garbage");
    EXPECT_TRUE(comm::launched_by_mpi());
    EXPECT_EQ(comm::local_world_size(), 1);
  }
}

TEST(Comm, ThreadsPerRankDoNotOversubscribe) {
  EXPECT_EQ(threads_per_local_rank(16, 1), 16);
  EXPECT_EQ(threads_per_local_rank(16, 4), 4);
  EXPECT_EQ(threads_per_local_rank(16, 3), 5);
  EXPECT_EQ(threads_per_local_rank(2, 4), 1);
  EXPECT_EQ(threads_per_local_rank(0, 0), 1);
}

TEST(Comm, BuildsSayWhatTheyLack) {
  if (!comm::nccl_built()) {
    auto single = comm::make_single_process();
    EXPECT_NE(error_of<comm::CommError>([&] { comm::make_nccl(*single, 0); }).find("built without NCCL"),
              std::string::npos);
  }
  if (!comm::mpi_built()) {
    EXPECT_NE(error_of<comm::CommError>([] { comm::make_mpi(); }).find("libopenmpi-dev"), std::string::npos);
  }
}

// NCCL over a world of one process (the single-process communicator shares the id): the
// sum over one rank leaves device data unchanged, and a broadcast keeps rank 0's bytes.
TEST(Comm, NcclAllReduceOnTheDevice) {
  if (!comm::nccl_built()) GTEST_SKIP() << "this build has no NCCL (needs CUDA on and nccl.h/libnccl found)";
  if (!cuda_available()) GTEST_SKIP() << "no usable CUDA device: " << cuda_unavailable_reason();
  auto single = comm::make_single_process();
  auto nccl = comm::make_nccl(*single, 0);
  EXPECT_EQ(nccl->name(), "nccl");
  EXPECT_EQ(nccl->world_size(), 1);
  Tensor host = Tensor::from_vector<float>(Shape{4}, {1, -2, 3.5f, 8});
  Tensor dev = host.to(Device::cuda(0));
  nccl->allreduce_sum(dev.raw_data(), 4, DType::f32);
  nccl->broadcast(dev.raw_data(), 16, 0);
  nccl->barrier();
  EXPECT_EQ(dev.to(Device::cpu()).to_vector<float>(), host.to_vector<float>());
}
