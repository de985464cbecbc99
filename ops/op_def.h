// One OpDef per op: its name, kind and flags, typed parameters, shape and dtype
// inference, the vector-Jacobian rule (written with ops) and the cost model. It names no
// backend: each backend keeps its own kernel table keyed by the op (ops/kernel_table.h),
// and elementwise ops carry their per-element form, from which every backend and the
// fused kernels derive theirs. Passes, the profiler and the frontend decide by kind and
// flags, never by an op's name. The generic tests pick every registered op up.
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "ops/graph.h"
#include "ops/param_codec.h"
#include "runtime/device.h"
#include "runtime/function_ref.h"
#include "runtime/tensor.h"

namespace dagrad {

class Stream;

// What an op is, for passes and the profiler.
enum class OpKind : uint8_t {
  source,         // input, parameter, constant fill: no data inputs
  elementwise,    // out[i] depends on in[i] of its (broadcast) inputs
  gemm,           // matrix products (matmul, fused attention)
  convolution,    // convolutions and their gradients
  pooling,        // window reductions and their gradients
  reduction,      // sums, maxima, softmax along axes
  normalization,  // batch norm and its gradient
  loss,           // losses, their gradients and metrics
  optimizer,      // parameter updates written in place
  collective,     // communication between the ranks of a job
  shape,          // moves bytes: reshape, transpose, concat, slice, broadcast
  other,
};
std::string_view op_kind_name(OpKind k);

struct OpFlags {
  bool inplace_ok = false;        // output 0 may share input 0's buffer
  bool view = false;              // output 0 is input 0's bytes with a new shape (reshape):
                                  // executors alias it and call no kernel
  bool accepts_epilogue = false;  // a fused elementwise group reading its output may run in
                                  // its step, right after it (GEMM, convolution, pooling gradient)
  bool epilogue_fusible = false;  // may be part of such an epilogue
  bool comm_stream = false;       // runs on the communication stream, in program order
  bool random = false;            // draws random numbers at element offset + index (its
                                  // params have an `offset`): data-parallel ranks shift it
  bool bound_input = false;       // a graph input: a tensor bound per run by name
  bool bound_parameter = false;   // persistent state bound by name (weights, optimizer state)
  bool selects_max = false;       // output 0 is, per window, the largest element of input 0
                                  // (max pooling)
  bool commutes_with_max = false;  // unary, non-decreasing, and flat wherever it maps two
                                   // values to one (relu): f(max x) = max f(x), and the
                                   // gradient is the same either way (scheduler/commute_max.h)
  bool scatters_input0 = false;    // output 0 is input 0's elements each added into one element
                                   // of its own channel (axis 1), zeros elsewhere (max pooling's
                                   // gradient): their sums over the other axes agree
                                   // (scheduler/sum_before_scatter.h)
  bool bound() const { return bound_input || bound_parameter; }
};

// What shape inference sees. fail() throws a ShapeError "[op] <msg>"; Graph::add_node
// appends the user's source line.
struct InferContext {
  const OpDef& op;
  std::span<const TensorType> inputs;
  const Attrs& attrs;
  const void* decoded = nullptr;  // the node's parameter struct

  template <class P>
  const P& params() const;
  [[noreturn]] void fail(const std::string& msg) const;
  // Checks the input count and, when given, that every input is floating.
  void expect_inputs(size_t n) const;
  void expect_floating(size_t i) const;  // float32 or float64
  void expect_float(size_t i) const;     // any floating type, 16-bit ones included
  void expect_same_dtype() const;  // all inputs share input 0's dtype
  // The output dtype of an op that multiplies its low_precision_inputs: they must be
  // floating and of one dtype; float32 when that is bfloat16 or float16 (products
  // accumulated in float32), else that dtype.
  DType product_dtype() const;
};
using InferFn = std::vector<TensorType> (*)(const InferContext&);

// The fused elementwise group that follows a kernel in its step (scheduler epilogues),
// offered to the kernel: a kernel that writes output 0 in finished pieces may run it on
// each piece while that piece is still in cache, and then sets `applied`; otherwise the
// executor runs it over the whole output afterwards. run(begin, end) evaluates the group
// for elements [begin, end) of output 0 on the calling thread (any thread).
// consumes_pieces: nothing but the epilogue reads output 0, so such a kernel may hand each
// piece over on the calling thread instead of writing it to its place (hand_piece,
// ops/cpu/epilogue_piece.h) and then call run() for its range on the same thread: output 0
// then never goes to memory. A run() with nothing handed reads output 0, so a kernel may
// ignore this. Pieces are contiguous unless the consumer takes_padded_rows
// (conv2d_max_pool2d pools the direct kernels' padded rows in place).
struct Epilogue {
  FunctionRef<void(int64_t begin, int64_t end)> run;
  mutable bool applied = false;
  bool consumes_pieces = false;
  bool takes_padded_rows = false;
};

// Sums of the consecutive runs ("planes") of `len` elements of a value, taken by the step
// that produced it on each finished piece while that piece is still in cache, for a
// later reduction that folds the planes (a bias gradient's sum over [N, C, H, W]): it then
// reads only the planes not ready. The executor owns one per such value and clears
// `ready` before the producing step runs.
struct PlaneSums {
  int64_t len = 0;
  std::vector<double> sums;    // per plane
  std::vector<uint8_t> ready;  // per plane: sums[p] holds plane p's sum
};

// What a kernel sees: the node (its typed parameters and types), input and output tensors
// already allocated with the inferred shapes, the run's step counter (seeds per-step
// randomness, e.g. dropout masks), the stream it runs on (null in the plain interpreter),
// the epilogue it may apply itself (null when there is none, or the backend runs
// epilogues only as whole passes) and plane sums of input 0 already taken (null: none).
struct KernelContext {
  const Node& node;
  std::span<const Tensor> inputs;
  std::span<Tensor> outputs;
  uint64_t step = 0;
  Stream* stream = nullptr;
  const Epilogue* epilogue = nullptr;
  const PlaneSums* plane_sums = nullptr;

  template <class P>
  const P& params() const {
    return node.params<P>();
  }
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

// The per-element form of an elementwise op: a functor of ops/elementwise_math.h,
// declared once there. Backends run it as an elementwise program (one op alone, or a
// fused group): the CPU through the tile functions, CUDA by generating
// "dagrad::<functor><T>{params...}(a, b)" for NVRTC. Made by elementwise_form<F>()
// (ops/elementwise_form.h).
inline constexpr int kMaxScalarParams = 4;
struct ElementwiseDef {
  const char* functor = nullptr;
  int arity = 1;
  int num_params = 0;
  // The functor's scalar members from the node's parameters.
  void (*params)(const Node& n, double* out) = nullptr;
  // out[i] = f(in[0][i], in[1][i]) for n contiguous elements.
  void (*tile_f32)(const float* const* in, float* out, int64_t n, const double* params) = nullptr;
  void (*tile_f64)(const double* const* in, double* out, int64_t n, const double* params) = nullptr;
  // out = in[0] in the compute type (a cast): a launcher may pass the operand through
  // instead of copying it, leaving the rounding to the program.
  bool identity = false;
};

struct OpDef {
  std::string name;
  OpKind kind = OpKind::other;
  OpFlags flags{};
  ParamCodec params{};  // none: the op has no parameters
  InferFn infer = nullptr;
  VjpFn vjp = nullptr;    // null: not differentiable
  CostFn cost = nullptr;  // null: bytes of inputs+outputs, one flop per element if elementwise
  // Inputs written in place (optimizer updates). The graph orders such a node after
  // every earlier reader of those values.
  std::vector<int> writes_inputs{};
  // Inputs through which no gradient flows (labels, indices, masks).
  std::vector<int> nondiff_inputs{};
  // Inputs that may come in bfloat16 or float16 (GEMM and convolution operands): the op
  // then multiplies in that precision, accumulates in float32 and returns float32. The
  // mixed-precision pass (scheduler/mixed_precision.h) casts exactly these.
  std::vector<int> low_precision_inputs{};
  // Inputs read only through their sign (x > 0: an activation's mask), which may come in
  // any floating dtype of the op's compute type: the mixed-precision pass hands them the
  // bfloat16 copy it already made of the value, which keeps every sign (see there).
  std::vector<int> sign_only_inputs{};
  // Whether this node's output 0 holds only elements of input 0, unchanged, and zeros (a
  // reshape; a scatter whose windows do not overlap), for an op that takes input 0 in any floating
  // dtype: a cast then commutes with it, and the mixed-precision pass may cast input 0
  // instead of output 0. Null: never.
  bool (*moves_input0)(const Node& n) = nullptr;
  std::optional<ElementwiseDef> elementwise{};
  std::string doc{};  // one line for `dagrad ops` and error messages
  int id = -1;        // set by the registry; kernel tables are indexed by it

  Cost cost_of(const Node& n) const;
};

template <class P>
const P& InferContext::params() const {
  DAGRAD_ASSERT(decoded && op.params.type == params_type<P>());
  return *static_cast<const P*>(decoded);
}

template <class P>
const P& Node::params() const {
  DAGRAD_ASSERT(decoded && op->params.type == params_type<P>());
  return *static_cast<const P*>(decoded.get());
}

}  // namespace dagrad
