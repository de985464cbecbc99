// One OpDef per op: name, attribute schema, type inference, kernels per backend, the
// vector-Jacobian rule (written with ops), cost model and scheduling flags. Adding an op
// means writing one OpDef and its kernels; the generic tests pick it up from the registry.
#pragma once
#include <array>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "ops/graph.h"
#include "runtime/device.h"
#include "runtime/tensor.h"

namespace dagrad {

class Stream;

// What shape inference sees. fail() throws a ShapeError "[op] <msg>"; Graph::add_node
// appends the user's source line.
struct InferContext {
  const OpDef& op;
  std::span<const TensorType> inputs;
  const Attrs& attrs;
  [[noreturn]] void fail(const std::string& msg) const;
  // Checks the input count and, when given, that every input is floating.
  void expect_inputs(size_t n) const;
  void expect_floating(size_t i) const;
  void expect_same_dtype() const;  // all inputs share input 0's dtype
};
using InferFn = std::vector<TensorType> (*)(const InferContext&);

// What a kernel sees: the node (attributes and types), input and output tensors already
// allocated with the inferred shapes, the run's step counter (seeds per-step randomness,
// e.g. dropout masks) and the stream it runs on (null in the plain interpreter).
struct KernelContext {
  const Node& node;
  std::span<const Tensor> inputs;
  std::span<Tensor> outputs;
  uint64_t step = 0;
  Stream* stream = nullptr;
};
using Kernel = void (*)(const KernelContext&);

// What a vjp rule sees. grad_outputs[i] is invalid when output i receives no gradient.
// It returns one Value per input: the gradient, or an invalid Value for none.
struct VjpContext {
  Graph& graph;
  const Node& node;
  std::vector<Value> inputs;
  std::vector<Value> outputs;
  std::vector<Value> grad_outputs;
  std::vector<bool> needs_grad;  // per input: only these gradients are wanted
};
using VjpFn = std::vector<Value> (*)(const VjpContext&);

struct Cost {
  double flops = 0;
  double bytes_read = 0;
  double bytes_written = 0;
};
using CostFn = Cost (*)(const Node&);

struct OpFlags {
  bool elementwise = false;       // out[i] depends only on in[i] of (broadcast) inputs
  bool inplace_ok = false;        // output 0 may share input 0's buffer
  bool epilogue_fusible = false;  // can fold into a preceding matmul/conv as an epilogue
  bool source = false;            // input, parameter, constant fill: no data inputs
  bool view = false;              // output 0 is input 0's bytes with a new shape (reshape):
                                  // executors alias it and call no kernel
};

// Per-element form of an elementwise op, used by fused kernels: the CPU evaluates a
// fused group tile by tile through `tile`; CUDA codegen calls `functor(params)` from
// ops/elementwise_math.h, the same functor the CPU instantiates.
struct ElementwiseDef {
  int arity = 1;
  std::string functor;  // e.g. "LeakyRelu"; code is "dagrad::LeakyRelu<T>{params...}(a, b)"
  // Scalar parameters of the functor taken from the node's attributes, in order.
  std::vector<double> (*params)(const Attrs&) = nullptr;
  // out[i] = f(in0[i], in1[i]) for n contiguous elements, T = float or double.
  void (*tile_f32)(const float* const* in, float* out, int64_t n, const double* params) = nullptr;
  void (*tile_f64)(const double* const* in, double* out, int64_t n, const double* params) = nullptr;
};

struct OpDef {
  std::string name;
  std::vector<AttrSpec> attrs;
  InferFn infer = nullptr;
  std::array<Kernel, kNumDeviceTypes> kernels{};  // indexed by DeviceType
  VjpFn vjp = nullptr;                            // null: not differentiable
  CostFn cost = nullptr;                          // null: bytes of inputs+outputs, no flops
  OpFlags flags;
  ElementwiseDef elementwise;  // meaningful when flags.elementwise
  // Inputs written in place (optimizer updates). The graph orders such a node after
  // every earlier reader of those values.
  std::vector<int> writes_inputs;
  // Inputs through which no gradient flows (labels, indices, masks).
  std::vector<int> nondiff_inputs;
  std::string doc;  // one line for `dagrad ops` and error messages

  Kernel kernel(DeviceType d) const { return kernels[static_cast<int>(d)]; }
  Cost cost_of(const Node& n) const;
};

}  // namespace dagrad
