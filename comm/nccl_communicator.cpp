// NCCL for device buffers: one ncclComm per process over the ranks of a bootstrap
// communicator (MPI), which broadcasts NCCL's unique id from rank 0. A collective is
// enqueued on the caller's CUDA stream (or this communicator's own) and then polled
// (cudaEventQuery, ncclCommGetAsyncError) against the deadline; on timeout the NCCL
// communicator is aborted so that no kernel keeps waiting for a dead rank.
#include <cuda_runtime.h>
#include <nccl.h>

#include <chrono>
#include <thread>

#include "comm/communicator.h"
#include "runtime/stream.h"

namespace dagrad::comm {

namespace {

void check_cuda(cudaError_t rc, const char* what) {
  if (rc != cudaSuccess) throw CommError(str_cat("[comm] ", what, " failed: ", cudaGetErrorString(rc)));
}

void check_nccl(ncclResult_t rc, const char* what) {
  if (rc != ncclSuccess && rc != ncclInProgress)
    throw CommError(str_cat("[comm] ", what, " failed: ", ncclGetErrorString(rc)));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::f32: return ncclFloat32;
    case DType::f64: return ncclFloat64;
    case DType::i32: return ncclInt32;
    case DType::i64: return ncclInt64;
    case DType::u8: return ncclUint8;
    case DType::bf16: return ncclBfloat16;
    case DType::f16: return ncclFloat16;
    case DType::i8: return ncclInt8;
    case DType::u32: return ncclUint32;
    case DType::u64: return ncclUint64;
    case DType::boolean:
    case DType::i16:
    case DType::u16: break;  // NCCL has no such type
  }
  throw ValueError(str_cat("[comm] no NCCL type for ", dtype_name(t)));
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(Communicator& bootstrap, int device) : rank_(bootstrap.rank()), size_(bootstrap.world_size()) {
    set_timeout(bootstrap.timeout());
    check_cuda(cudaSetDevice(device), "cudaSetDevice");
    ncclUniqueId id{};
    if (rank_ == 0) check_nccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
    bootstrap.broadcast(&id, sizeof id, 0);
    check_nccl(ncclCommInitRank(&comm_, size_, id, rank_), "ncclCommInitRank");
    check_cuda(cudaStreamCreateWithFlags(&own_stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    check_cuda(cudaEventCreateWithFlags(&done_, cudaEventDisableTiming), "cudaEventCreate");
  }
  ~NcclCommunicator() override {
    if (done_) cudaEventDestroy(done_);
    if (own_stream_) cudaStreamDestroy(own_stream_);
    if (comm_) failed_ ? ncclCommAbort(comm_) : ncclCommDestroy(comm_);
  }

  std::string name() const override { return "nccl"; }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  void allreduce_sum(void* data, int64_t count, DType dtype, Stream* stream) override {
    cudaStream_t s = stream_of(stream);
    check_nccl(ncclAllReduce(data, data, static_cast<size_t>(count), nccl_type(dtype), ncclSum, comm_, s),
               "ncclAllReduce");
    wait(s, "all-reduce");
  }
  void broadcast(void* data, int64_t bytes, int root, Stream* stream) override {
    cudaStream_t s = stream_of(stream);
    check_nccl(ncclBroadcast(data, data, static_cast<size_t>(bytes), ncclUint8, root, comm_, s), "ncclBroadcast");
    wait(s, "broadcast");
  }
  void barrier() override {
    // A one-element all-reduce on a scratch device word is NCCL's barrier.
    void* word = nullptr;
    check_cuda(cudaMalloc(&word, sizeof(float)), "cudaMalloc");
    try {
      check_cuda(cudaMemsetAsync(word, 0, sizeof(float), own_stream_), "cudaMemsetAsync");
      allreduce_sum(word, 1, DType::f32, nullptr);
    } catch (...) {
      cudaFree(word);
      throw;
    }
    cudaFree(word);
  }
  void abort(int) noexcept override {
    failed_ = true;
    if (comm_) ncclCommAbort(comm_);
    comm_ = nullptr;
  }

 private:
  cudaStream_t stream_of(Stream* s) const {
    return s && s->native_handle() ? static_cast<cudaStream_t>(s->native_handle()) : own_stream_;
  }
  void wait(cudaStream_t s, const char* what) {
    using clock = std::chrono::steady_clock;
    auto deadline = clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout()));
    check_cuda(cudaEventRecord(done_, s), "cudaEventRecord");
    for (;;) {
      cudaError_t q = cudaEventQuery(done_);
      if (q == cudaSuccess) return;
      if (q != cudaErrorNotReady) check_cuda(q, what);
      ncclResult_t async = ncclSuccess;
      check_nccl(ncclCommGetAsyncError(comm_, &async), "ncclCommGetAsyncError");
      check_nccl(async, what);
      if (clock::now() >= deadline) {
        abort(1);
        throw CommError(timeout_message(what));
      }
      std::this_thread::sleep_for(std::chrono::microseconds(20));
    }
  }

  int rank_ = 0, size_ = 1;
  ncclComm_t comm_ = nullptr;
  cudaStream_t own_stream_ = nullptr;
  cudaEvent_t done_ = nullptr;
  bool failed_ = false;
};

}  // namespace

bool nccl_built() { return true; }

std::unique_ptr<Communicator> make_nccl(Communicator& bootstrap, int device) {
  return std::make_unique<NcclCommunicator>(bootstrap, device);
}

}  // namespace dagrad::comm
