#include "squareplus_op.h"

#include <cmath>

using namespace dagrad;

namespace {

// Shape rule: one floating input, an output of the same type; b > 0.
std::vector<TensorType> squareplus_infer(const InferContext& ctx) {
  ctx.expect_inputs(1);
  ctx.expect_floating(0);
  const double b = ctx.params<SquareplusParams>().b;
  if (!(b > 0)) throw ValueError(str_cat("[squareplus] b must be positive, got ", b));
  return {ctx.inputs[0]};
}

// CPU kernel: the output is allocated with the inferred shape; write every element.
// Each element is computed alone, so the thread split cannot change the result.
void squareplus_cpu(const KernelContext& ctx) {
  const double b = ctx.params<SquareplusParams>().b;
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  dispatch_floating(x.dtype(), "squareplus", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const T bt = static_cast<T>(b);
    parallel_for(0, x.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) out[i] = (in[i] + std::sqrt(in[i] * in[i] + bt)) / T(2);
    });
  });
}

// d squareplus(x)/dx = (1 + x / sqrt(x² + b)) / 2, written with the ops of ops/ops.h so
// backward is ordinary graph (and can itself be differentiated).
std::vector<Value> squareplus_vjp(const VjpContext& ctx) {
  if (!ctx.needs_grad[0]) return {Value{}};
  const Value x = ctx.inputs[0];
  const double b = ctx.node.params<SquareplusParams>().b;
  return {ctx.grad_outputs[0] * ((1.0 + x / sqrt(x * x + b)) * 0.5)};
}

// For the profiler and the plan: about 5 flops per element, read once, written once.
Cost squareplus_cost(const Node& node) {
  const TensorType& t = node.outputs[0];
  const double elems = static_cast<double>(t.shape.numel());
  const double bytes = elems * static_cast<double>(dtype_size(t.dtype));
  return {.flops = 5 * elems, .bytes_read = bytes, .bytes_written = bytes};
}

}  // namespace

void register_squareplus() {
  // One record: what the op is (its kind decides how passes and the profiler treat it),
  // its parameters, shape rule, gradient and cost. It names no backend.
  const OpDef& op = OpRegistry::instance().add({.name = "squareplus",
                                                 .kind = OpKind::other,
                                                 .params = params_codec<SquareplusParams>(),
                                                 .infer = squareplus_infer,
                                                 .vjp = squareplus_vjp,
                                                 .cost = squareplus_cost,
                                                 .doc = "(x + sqrt(x^2 + b)) / 2, a smooth relu"});
  // The CPU backend's kernel, keyed by the op. (An elementwise op would instead give its
  // per-element form, OpDef::elementwise, and run fused on every backend.)
  mutable_kernel_table(DeviceType::cpu).set(op, squareplus_cpu);
}

Value squareplus(Value x, double b, const std::source_location& loc) {
  return apply("squareplus", {x}, encode_params(SquareplusParams{b}), loc);
}
