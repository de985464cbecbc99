// OpenMPI over MPI_COMM_WORLD, for CPU buffers. Collectives are non-blocking calls
// (MPI_Iallreduce, MPI_Ibcast, MPI_Ibarrier) polled with MPI_Test against the deadline,
// so a rank that stops taking part turns into a CommError on the others, not a hang.
// MPI is initialised with MPI_THREAD_SERIALIZED: calls come from the main thread and from
// the executor's communication stream, never at the same time (a run ends before the
// trainer's own collectives).
#include <mpi.h>

#include <chrono>
#include <climits>
#include <thread>

#include "comm/communicator.h"

namespace dagrad::comm {

namespace {

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw CommError(str_cat("[comm] ", what, " failed: ", std::string(msg, static_cast<size_t>(len))));
}

MPI_Datatype mpi_type(DType t) {
  switch (t) {
    case DType::f32: return MPI_FLOAT;
    case DType::f64: return MPI_DOUBLE;
    case DType::i32: return MPI_INT32_T;
    case DType::i64: return MPI_INT64_T;
    case DType::u8: return MPI_UINT8_T;
    case DType::i8: return MPI_INT8_T;
    case DType::i16: return MPI_INT16_T;
    case DType::u16: return MPI_UINT16_T;
    case DType::u32: return MPI_UINT32_T;
    case DType::u64: return MPI_UINT64_T;
    case DType::boolean: return MPI_C_BOOL;
    case DType::bf16:
    case DType::f16: break;  // MPI has no 16-bit float type to sum
  }
  throw ValueError(str_cat("[comm] no MPI type for ", dtype_name(t)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int initialised = 0;
    MPI_Initialized(&initialised);
    if (!initialised) {
      int provided = 0;
      check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_SERIALIZED, &provided), "MPI_Init_thread");
      owns_ = true;
      if (provided < MPI_THREAD_SERIALIZED)
        throw CommError(str_cat("[comm] this MPI gives thread level ", provided,
                                " but dagrad needs MPI_THREAD_SERIALIZED (calls come from two threads)"));
    }
    // Errors come back as codes (then CommError), not as MPI's default abort.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
  }
  ~MpiCommunicator() override {
    int finalised = 0;
    MPI_Finalized(&finalised);
    // After a missed deadline a request is still pending: finalising would wait for the
    // dead rank, so the job is aborted instead.
    if (owns_ && !finalised) {
      if (failed_) MPI_Abort(MPI_COMM_WORLD, 1);
      MPI_Finalize();
    }
  }

  std::string name() const override { return "mpi"; }
  int rank() const override { return rank_; }
  int world_size() const override { return size_; }

  void allreduce_sum(void* data, int64_t count, DType dtype, Stream*) override {
    if (count < 0) throw ValueError(str_cat("[comm] all-reduce of a negative count ", count));
    char* p = static_cast<char*>(data);
    // MPI counts are ints: large buffers go in pieces.
    for (int64_t done = 0; done < count;) {
      int n = static_cast<int>(std::min<int64_t>(count - done, INT_MAX / 2));
      MPI_Request req;
      check(MPI_Iallreduce(MPI_IN_PLACE, p + done * static_cast<int64_t>(dtype_size(dtype)), n, mpi_type(dtype),
                           MPI_SUM, MPI_COMM_WORLD, &req),
            "MPI_Iallreduce");
      wait(req, "all-reduce");
      done += n;
    }
  }

  void broadcast(void* data, int64_t bytes, int root, Stream*) override {
    if (root < 0 || root >= size_) throw ValueError(str_cat("[comm] broadcast root ", root, " is not a rank of ", size_));
    char* p = static_cast<char*>(data);
    for (int64_t done = 0; done < bytes;) {
      int n = static_cast<int>(std::min<int64_t>(bytes - done, INT_MAX / 2));
      MPI_Request req;
      check(MPI_Ibcast(p + done, n, MPI_BYTE, root, MPI_COMM_WORLD, &req), "MPI_Ibcast");
      wait(req, "broadcast");
      done += n;
    }
  }

  void barrier() override {
    MPI_Request req;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &req), "MPI_Ibarrier");
    wait(req, "barrier");
  }

  void abort(int code) noexcept override {
    failed_ = true;
    MPI_Abort(MPI_COMM_WORLD, code);
  }

 private:
  // Polls until the request completes or the deadline passes. Spins (yielding) for a
  // little while, then sleeps between tests so that a waiting rank leaves the cores to
  // the compute streams.
  void wait(MPI_Request& req, const char* what) {
    using clock = std::chrono::steady_clock;
    auto start = clock::now();
    auto deadline = start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(timeout()));
    for (int polls = 0;; ++polls) {
      int done = 0;
      check(MPI_Test(&req, &done, MPI_STATUS_IGNORE), what);
      if (done) return;
      auto now = clock::now();
      if (now >= deadline) {
        failed_ = true;
        throw CommError(timeout_message(what));
      }
      if (now - start < std::chrono::microseconds(200)) std::this_thread::yield();
      else std::this_thread::sleep_for(std::chrono::microseconds(polls < 10000 ? 20 : 1000));
    }
  }

  int rank_ = 0, size_ = 1;
  bool owns_ = false;
  bool failed_ = false;
};

}  // namespace

bool mpi_built() { return true; }

std::unique_ptr<Communicator> make_mpi() { return std::make_unique<MpiCommunicator>(); }

}  // namespace dagrad::comm
