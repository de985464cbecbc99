// A whole Executor run (a training step) captured into one CUDA Graph and replayed:
// one launch per step instead of one per kernel, so small steps are no longer bound by
// the host's launch rate.
//
// The graph fixes every device address it touches: the arena, the bound state (keep
// binding the same tensors) and the executor's staging buffers for host inputs (so
// replay() takes host batches of the captured signature). The run step still changes:
// dropout reads it from a slot refreshed at each replay (CudaStream::replay_step).
// Capture needs one ordinary run first (kernels compiled, workspaces grown), and the
// executor must not check numerics (that reads results back during the run).
#pragma once
#include <cuda_runtime_api.h>

#include <vector>

#include "ops/interpreter.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler {

class CudaGraphRunner {
 public:
  // Captures the executor's next run, then launches it once: that run's outputs are
  // returned by outputs_of_capture(). Throws DeviceError on a non-CUDA executor or a
  // failed capture (naming the CUDA error).
  CudaGraphRunner(Executor& executor, const TensorMap& inputs);
  ~CudaGraphRunner();
  CudaGraphRunner(const CudaGraphRunner&) = delete;
  CudaGraphRunner& operator=(const CudaGraphRunner&) = delete;

  // One replay with run step executor.next_step(): copies `inputs` (host tensors of the
  // captured shapes) into the staging buffers, launches the graph, waits, and returns
  // the outputs as Executor::run does.
  std::vector<Tensor> run(const TensorMap& inputs);
  const std::vector<Tensor>& outputs_of_capture() const { return first_outputs_; }
  size_t num_nodes() const { return num_nodes_; }  // kernels, copies and memsets captured

 private:
  void set_step(uint64_t step);
  void check_host_inputs(const TensorMap& inputs) const;

  Executor& ex_;
  cudaGraph_t graph_ = nullptr;
  cudaGraphExec_t exec_ = nullptr;
  size_t num_nodes_ = 0;
  std::vector<Tensor> first_outputs_;
};

}  // namespace dagrad::scheduler
