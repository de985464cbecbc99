// An elementwise program: elementwise ops applied in order to external inputs (broadcast
// to the program's shape) and to earlier instructions' results, through each op's
// per-element form (OpDef::elementwise). A fused group of the scheduler is one program;
// so is one elementwise op alone. Backends evaluate programs without full-size
// temporaries: the CPU tile by tile (ops/cpu/elementwise_program.cpp), CUDA as one
// generated kernel (ops/cuda/elementwise_codegen.h).
//
// Values of several dtypes of one compute type may mix (compute_dtype: float32 for
// float32, bfloat16 and float16; float64 alone): inputs are read into the compute type,
// every instruction computes in it and rounds its result to its own dtype (so a fused
// group gives exactly what its ops give one by one), and outputs are stored in theirs.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ops/graph.h"
#include "ops/op_def.h"
#include "runtime/tensor.h"

namespace dagrad {

struct ElementwiseProgram {
  // How an external input covers the program's shape.
  struct Input {
    enum class Mode : uint8_t { full, scalar, broadcast } mode = Mode::full;
    Shape shape;
    // broadcast: the output's dimensions collapsed as far as this input allows, and the
    // input's element stride along each (0 where it is broadcast, 1 innermost otherwise).
    std::vector<int64_t> dims, strides;
    DType dtype = DType::f32;  // as stored
  };
  struct Instr {
    int node = -1;
    const ElementwiseDef* def = nullptr;
    std::vector<double> params;
    // Operands: i < inputs.size() is external input i; otherwise the result of
    // instruction i - inputs.size().
    std::vector<int> args;
    DType dtype = DType::f32;  // of its result (its node's output), rounded to it
  };

  Shape shape;
  DType dtype = DType::f32;  // the compute type: float32 or float64
  std::vector<Input> inputs;
  std::vector<Instr> instrs;  // instruction i's result is register i
  std::vector<int> outputs;   // per materialised output: the instruction it stores (in its dtype)
  // What a device launcher derives once from the program and reuses at every launch
  // (CUDA: the compiled kernel); null until its first launch.
  mutable std::shared_ptr<void> launcher_state;

  // `nodes` (elementwise, of one output type, in a valid order) reading `inputs` (values
  // from outside) and materialising the outputs of the nodes `outputs`.
  static ElementwiseProgram from_nodes(const Graph& g, std::span<const int> nodes, std::span<const Value> inputs,
                                       std::span<const int> outputs);
  // One elementwise node: its inputs in order (repeats included), its output materialised.
  static ElementwiseProgram from_node(const Node& n);
};

// Evaluates `p`: inputs[i] has p.inputs[i].shape, outputs[j] has p.shape; an output may
// share bytes with a full-shape input (in place). `stream` is where it runs (null: now).
using ProgramLauncher = void (*)(const ElementwiseProgram& p, std::span<const Tensor> inputs,
                                 std::span<Tensor> outputs, Stream* stream);
// Evaluates elements [begin, end) of `p` only, on the calling thread (a kernel applying its
// epilogue to a finished piece of its output). handed_input >= 0: that full-shape input
// is the kernel's output 0, which it may have handed over instead of writing
// (Epilogue::consumes_pieces); a piece handed on this thread is read in its place.
using RangeLauncher = void (*)(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                               int64_t begin, int64_t end, int handed_input);

}  // namespace dagrad
