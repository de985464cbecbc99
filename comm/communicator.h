// Communication between the processes of a data-parallel job: rank, world size and the
// three collectives training needs (in-place sum all-reduce, broadcast from a root,
// barrier). One Communicator per process is "the world" (world()), which the trainer
// hands to the collective ops it adds (comm/collective_ops.h): each node carries its
// communicator. Implementations: a single
// process (world 1, the default), OpenMPI (CPU buffers) and NCCL (device buffers), the
// latter two only in builds that found them.
//
// Every collective has a deadline (timeout(), default 300 s): when another rank stops
// taking part (it died, or left early) the call throws CommError instead of hanging,
// and finalize_world() with a failure code then aborts the whole job (MPI_Abort), so
// mpirun ends.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "runtime/dtype.h"
#include "runtime/error.h"

namespace dagrad {
class Stream;
}

namespace dagrad::comm {

class CommError : public Error {
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual std::string name() const = 0;  // "single", "mpi", "nccl"
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // data[i] = sum over ranks of data[i], in place; every rank calls it with the same
  // count and dtype, in the same order. `stream` orders the device work (NCCL); the
  // call returns when the result is ready.
  virtual void allreduce_sum(void* data, int64_t count, DType dtype, Stream* stream = nullptr) = 0;
  // Rank `root`'s bytes to every rank.
  virtual void broadcast(void* data, int64_t bytes, int root = 0, Stream* stream = nullptr) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job now (after an error on this one); never returns for MPI.
  virtual void abort(int code) noexcept { (void)code; }

  // The communicator for buffers on CUDA device `device`: NCCL over this communicator's
  // ranks, made at the first call, which is collective (every rank makes it), and kept
  // until finalize_world. Throws CommError in a build without NCCL.
  Communicator& for_device(int device);

  double timeout() const { return timeout_s_; }
  void set_timeout(double seconds);

 protected:
  // The message of a collective that missed its deadline.
  std::string timeout_message(const char* what) const;

 private:
  double timeout_s_ = 300;
};

// The process's communicator: single-process until set_world() installs another.
Communicator& world();
void set_world(std::unique_ptr<Communicator> c);
// Finalises (code 0) or, after a failure in a job of several ranks, aborts every rank
// with `code`; then the world is single-process again.
void finalize_world(int code);

std::unique_ptr<Communicator> make_single_process();

// True when this process was started by mpirun/mpiexec (OMPI_COMM_WORLD_SIZE, PMIX_RANK,
// PMI_RANK or MPI_LOCALNRANKS in the environment).
bool launched_by_mpi();
// Ranks of this job on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, MPI_LOCALNRANKS), 1
// when not under MPI.
int local_world_size();
// This process's rank among them (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID), 0 when
// not under MPI.
int local_rank();

// Whether this build has the OpenMPI / NCCL implementation.
bool mpi_built();
bool nccl_built();
// Initialises MPI (threads: serialized) and joins MPI_COMM_WORLD. Throws CommError in a
// build without MPI, naming the package to install.
std::unique_ptr<Communicator> make_mpi();
// NCCL over the ranks of `bootstrap` (which shares NCCL's unique id), on CUDA device
// `device`; buffers must live on that device. Throws CommError in a build without NCCL.
std::unique_ptr<Communicator> make_nccl(Communicator& bootstrap, int device);

// world().for_device(device).
Communicator& device_world(int device);

}  // namespace dagrad::comm
