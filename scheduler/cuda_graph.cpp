#include "scheduler/cuda_graph.h"

#include <memory>

#include "runtime/cuda/cuda_backend.h"
#include "runtime/cuda/cuda_check.h"
#include "runtime/error.h"

namespace dagrad::scheduler {

CudaGraphRunner::CudaGraphRunner(Executor& executor, const TensorMap& inputs) : ex_(executor) {
  if (ex_.backend().device().is_cpu())
    throw DeviceError("[cuda graph] the executor runs on the CPU; CUDA Graphs need a CUDA backend");
  if (ex_.check_numerics())
    throw ValueError("[cuda graph] cannot capture a run that checks numerics (it reads results back mid-run)");
  if (ex_.runs() == 0)
    throw ValueError("[cuda graph] run the executor once before capturing: the first run compiles the fused "
                     "kernels and sizes the workspaces, which a capture cannot do");
  check_host_inputs(inputs);
  const uint64_t step = ex_.next_step();
  ex_.begin_run(inputs, step);  // the host batch goes to the staging buffers now, outside the graph
  set_step(step);
  cuda::CudaStream& origin = cuda::cuda_stream(&ex_.stream(0));
  cuda::DeviceGuard guard(origin.device().index);
  // Relaxed: the executor's host-side bookkeeping may call the CUDA runtime meanwhile.
  DAGRAD_CUDA_CHECK(cudaStreamBeginCapture(origin.handle(), cudaStreamCaptureModeRelaxed));
  // The other streams join the capture by waiting for the origin, and the origin waits
  // for them at the end, so the graph holds every stream's work with its events.
  Backend& backend = ex_.backend();
  std::vector<std::unique_ptr<Event>> events;
  events.push_back(backend.create_event());
  origin.record(*events.back());
  for (int i = 1; i < ex_.num_streams(); ++i) ex_.stream(i).wait(*events.front());
  ex_.submit_steps();
  for (int i = 1; i < ex_.num_streams(); ++i) {
    events.push_back(backend.create_event());
    ex_.stream(i).record(*events.back());
    origin.wait(*events.back());
  }
  const cudaError_t err = cudaStreamEndCapture(origin.handle(), &graph_);
  if (err != cudaSuccess) {
    (void)cudaGetLastError();
    ex_.end_run();  // rethrows a step's own error, the likely cause, first
    cuda::detail::throw_cuda_error(err, "cudaStreamEndCapture(origin, &graph)", __FILE__, __LINE__);
  }
  DAGRAD_CUDA_CHECK(cudaGraphInstantiate(&exec_, graph_, 0));
  DAGRAD_CUDA_CHECK(cudaGraphGetNodes(graph_, nullptr, &num_nodes_));
  DAGRAD_CUDA_CHECK(cudaGraphLaunch(exec_, origin.handle()));
  first_outputs_ = ex_.end_run();
}

CudaGraphRunner::~CudaGraphRunner() {
  if (exec_) (void)cudaGraphExecDestroy(exec_);
  if (graph_) (void)cudaGraphDestroy(graph_);
}

void CudaGraphRunner::check_host_inputs(const TensorMap& inputs) const {
  for (const auto& [name, t] : inputs)
    if (t.defined() && !t.device().is_cpu())
      throw ValueError(str_cat("[cuda graph] input '", name, "' is on ", t.device().to_string(),
                               "; a captured graph reads its inputs from fixed staging buffers, so pass host tensors"));
}

void CudaGraphRunner::set_step(uint64_t step) {
  for (int i = 0; i < ex_.num_streams(); ++i) cuda::cuda_stream(&ex_.stream(i)).set_replay_step(step);
}

std::vector<Tensor> CudaGraphRunner::run(const TensorMap& inputs) {
  check_host_inputs(inputs);
  const uint64_t step = ex_.next_step();
  ex_.begin_run(inputs, step);
  set_step(step);
  cuda::CudaStream& origin = cuda::cuda_stream(&ex_.stream(0));
  cuda::DeviceGuard guard(origin.device().index);
  DAGRAD_CUDA_CHECK(cudaGraphLaunch(exec_, origin.handle()));
  return ex_.end_run();
}

}  // namespace dagrad::scheduler
