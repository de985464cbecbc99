// A fused elementwise group as a little program: every member applies its op's
// per-element function (ElementwiseDef) to external inputs (broadcast to the group's
// shape) and to earlier members' results. Backends evaluate it without full-size
// temporaries: the CPU tile by tile through ElementwiseDef::tile_f32/tile_f64; CUDA by
// generating one kernel from the members' functors (scheduler/cuda_fused.h).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ops/graph.h"
#include "ops/op_def.h"
#include "runtime/device.h"
#include "runtime/tensor.h"
#include "scheduler/plan.h"

namespace dagrad {
class Stream;
}

namespace dagrad::scheduler {

struct FusedProgram {
  // How an external input covers the group's shape.
  struct Input {
    enum class Mode : uint8_t { full, scalar, broadcast } mode = Mode::full;
    Shape shape;
    // broadcast: the output's dimensions collapsed as far as this input allows, and the
    // input's element stride along each (0 where it is broadcast, 1 innermost otherwise).
    std::vector<int64_t> dims, strides;
  };
  struct Instr {
    int node = -1;
    const ElementwiseDef* def = nullptr;
    std::vector<double> params;
    // Operands: i < inputs.size() is external input i; otherwise the result of
    // instruction i - inputs.size().
    std::vector<int> args;
  };

  Shape shape;
  DType dtype = DType::f32;
  std::vector<Input> inputs;
  std::vector<Instr> instrs;  // instruction i's result is register i
  std::vector<int> outputs;   // per materialised output: the instruction it stores
  // What a device launcher derives once from the program and reuses at every launch
  // (CUDA: the compiled kernel); null until its first launch.
  mutable std::shared_ptr<void> launcher_state;

  static FusedProgram from_group(const Graph& g, const FusedGroup& group);
};

// Evaluates `p`: inputs[i] has p.inputs[i].shape, outputs[j] has p.shape; an output may
// share bytes with a full-shape input (in place). `stream` is where it runs (null: now).
using FusedLauncher = void (*)(const FusedProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                               Stream* stream);
// The launcher for a device type (null where none is registered: the CPU always has one).
FusedLauncher fused_launcher(DeviceType d);
void set_fused_launcher(DeviceType d, FusedLauncher launcher);

// The CPU launcher: tiles of kFusedTile elements, in parallel over tiles.
constexpr int64_t kFusedTile = 512;
void run_fused_cpu(const FusedProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                   Stream* stream = nullptr);

}  // namespace dagrad::scheduler
