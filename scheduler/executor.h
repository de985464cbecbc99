// Executor: runs an ExecutionPlan on a Backend's streams. It owns one arena of the
// plan's peak size, allocated and touched once and reused by every run. Parameters and
// optimizer state are bound once (bind) and updated in place by the plan's writer
// nodes; inputs are bound per run. It uses only the Backend, Stream and Event
// interfaces, so the same code drives the CPU and CUDA.
//
// run() returns copies of the requested outputs: fresh tensors on the backend's device,
// owned by the caller and unaffected by later runs.
#pragma once
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "ops/interpreter.h"
#include "runtime/backend.h"
#include "scheduler/plan.h"

namespace dagrad::scheduler {

// What the executor reports per compute step when a StepObserver is set (profiling).
struct StepTiming {
  const Step* step = nullptr;
  double start_s = 0;  // steady-clock seconds, host side, around the step's task
  double end_s = 0;
};
using StepObserver = std::function<void(const StepTiming&)>;

class Executor {
 public:
  // The plan's graph must outlive the executor. Throws ValueError when a step has no
  // kernel (or fused launcher) for the backend's device.
  explicit Executor(ExecutionPlan plan, Backend& backend = backend_for(Device::cpu()));
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Persistent state by node name (parameters, optimizer state, or an input that stays
  // the same). The tensor is kept, not copied: in-place updates show in the caller's
  // tensor. Names the plan does not read are ignored; a name the graph lacks throws.
  void bind(const std::string& name, const Tensor& t);
  void bind(const TensorMap& state);

  // One run with KernelContext::step = next_step() (then incremented), or `step`.
  // `inputs` binds input nodes (and may override bound state) for this run only; an
  // input on another device (a host batch for a GPU executor) is copied over first, while
  // state must already live on the executor's device (DeviceError otherwise). Throws
  // ValueError/ShapeError naming a missing or mis-shaped tensor before anything runs,
  // and rethrows the first kernel error after every stream has stopped.
  std::vector<Tensor> run(const TensorMap& inputs = {});
  std::vector<Tensor> run(const TensorMap& inputs, uint64_t step);
  // As run(), but copies the outputs into `outputs`, reusing its tensors where they
  // already have the output's shape, dtype and device and nobody else shares them: the
  // steady-state training step then allocates nothing.
  void run(const TensorMap& inputs, uint64_t step, std::vector<Tensor>& outputs);

  // run() in three parts, for drivers that act between them (CUDA Graph capture and
  // replay, scheduler/cuda_graph.h): begin_run binds `inputs` (copying host batches to
  // the device) for run step `step`; submit_steps enqueues every step and event on its
  // stream without waiting; end_run waits for every stream, rethrows the first error
  // and returns the outputs as run() does. run() is exactly these three calls.
  void begin_run(const TensorMap& inputs, uint64_t step);
  void submit_steps();
  std::vector<Tensor> end_run();
  void end_run(std::vector<Tensor>& outputs);  // reusing `outputs` as run(inputs, step, outputs) does
  int num_streams() const { return static_cast<int>(streams_.size()); }
  Stream& stream(int i) const { return *streams_.at(i); }

  uint64_t next_step() const { return next_step_; }
  void set_next_step(uint64_t s) { next_step_ = s; }
  uint64_t runs() const { return runs_; }
  const ExecutionPlan& plan() const { return plan_; }
  Backend& backend() const { return backend_; }
  size_t arena_bytes() const { return plan_.arena_bytes; }
  // Called after every compute step on the thread that ran it (on the CPU, the stream's
  // worker: calls from different streams may overlap); null: off.
  void set_step_observer(StepObserver obs) { observer_ = std::move(obs); }
  // After every step, stop with NumericsError at the first NaN/Inf it wrote (naming the
  // node, op and source line). Compile without fusion to pin it to a single op.
  void set_check_numerics(bool on) { check_numerics_ = on; }
  bool check_numerics() const { return check_numerics_; }
  // Reductions that take plane sums from the step producing their input (a bias
  // gradient's sum after an epilogue step; KernelContext::plane_sums).
  int plane_sum_readers() const { return plane_sum_readers_; }
  // How many kernel steps may hand their output 0 to their epilogue piece by piece, since
  // nothing else reads it (Epilogue::consumes_pieces): that output never goes to memory.
  int handed_outputs() const { return handed_outputs_; }

 private:
  struct StepExec;
  void prepare_steps();
  void link_plane_sums();
  int output_read_only_by_epilogue(const Step& step, const ElementwiseProgram& program) const;
  void bind_run(const TensorMap& inputs);
  void submit(StepExec& s, uint64_t step);

  // The arena's bytes; declared before the streams so that it is freed after they stop.
  class Arena {
   public:
    // Throws OutOfMemoryError naming the plan (its outputs, largest buffer) and the sizes.
    Arena(Allocator& alloc, const ExecutionPlan& plan);
    ~Arena();
    Arena(const Arena&) = delete;
    Arena& operator=(const Arena&) = delete;
    char* data() const { return data_; }

   private:
    Allocator& alloc_;
    size_t bytes_;
    char* data_ = nullptr;
  };

  ExecutionPlan plan_;
  Backend& backend_;
  Device device_;
  Arena arena_;
  std::vector<std::unique_ptr<Stream>> streams_;
  std::vector<std::unique_ptr<Event>> events_;
  std::vector<std::unique_ptr<StepExec>> steps_;  // per plan step (null for record/wait)
  std::vector<std::vector<Tensor>> values_;       // [node][index]: the tensor a value lives in
  TensorMap state_;
  std::unordered_map<int, Tensor> staging_;  // inputs copied from another device
  std::unique_ptr<Event> staging_event_;     // stream 0's staging copies, for the other streams
  uint64_t next_step_ = 0;
  uint64_t runs_ = 0;
  std::vector<std::unique_ptr<PlaneSums>> plane_sums_;  // taken by one step, read by a later one
  void (*collect_plane_sums_)(const Tensor&, int64_t, int64_t, PlaneSums&) = nullptr;
  int plane_sum_readers_ = 0;
  int handed_outputs_ = 0;
  StepObserver observer_;
  bool check_numerics_ = false;
  uint64_t run_step_ = 0;             // of the run begun by begin_run
  std::exception_ptr run_error_;      // from submit_steps, rethrown by end_run
};

}  // namespace dagrad::scheduler
