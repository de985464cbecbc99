#include "softplus_op.h"

#include <algorithm>
#include <cmath>

using namespace dagrad;

namespace {

// Shape rule: one floating input, an output of the same type; beta > 0.
std::vector<TensorType> softplus_infer(const InferContext& ctx) {
  ctx.expect_inputs(1);
  ctx.expect_floating(0);
  const double beta = ctx.attrs.get_float_or("beta", 1.0);
  if (!(beta > 0)) throw ValueError(str_cat("[softplus] beta must be positive, got ", beta));
  return {ctx.inputs[0]};
}

// CPU kernel: the output is allocated with the inferred shape; write every element.
// Each element is computed alone, so the thread split cannot change the result.
void softplus_cpu(const KernelContext& ctx) {
  const double beta = ctx.node.attrs.get_float_or("beta", 1.0);
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  dispatch_floating(x.dtype(), "softplus", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const T b = static_cast<T>(beta);
    parallel_for(0, x.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T z = b * in[i];
        // log(1 + e^z) = max(z, 0) + log1p(e^-|z|), which never overflows.
        out[i] = (std::max(z, T(0)) + std::log1p(std::exp(-std::abs(z)))) / b;
      }
    });
  });
}

// d softplus(x)/dx = sigmoid(beta x), written with the ops of ops/ops.h so backward is
// ordinary graph (and can itself be differentiated).
std::vector<Value> softplus_vjp(const VjpContext& ctx) {
  if (!ctx.needs_grad[0]) return {Value{}};
  const double beta = ctx.node.attrs.get_float_or("beta", 1.0);
  return {ctx.grad_outputs[0] * sigmoid(ctx.inputs[0] * beta)};
}

// For the profiler and the plan: about 5 flops per element, read once, written once.
Cost softplus_cost(const Node& node) {
  const TensorType& t = node.outputs[0];
  const double elems = static_cast<double>(t.shape.numel());
  const double bytes = elems * static_cast<double>(dtype_size(t.dtype));
  return {.flops = 5 * elems, .bytes_read = bytes, .bytes_written = bytes};
}

}  // namespace

void register_softplus() {
  OpDef def;
  def.name = "softplus";
  def.attrs = {{"beta", AttrKind::Float, /*required=*/false}};
  def.infer = softplus_infer;
  def.kernels[static_cast<int>(DeviceType::cpu)] = softplus_cpu;
  def.vjp = softplus_vjp;
  def.cost = softplus_cost;
  // Not flagged elementwise: fusion would need an ElementwiseDef with tile functions
  // (and a functor in dagrad's own elementwise math for CUDA); as a plain kernel it runs
  // as one step of its own.
  def.doc = "log(1 + exp(beta x)) / beta, a smooth relu";
  OpRegistry::instance().add(std::move(def));
}

Value softplus(Value x, double beta, const std::source_location& loc) {
  return apply("softplus", {x}, {{"beta", beta}}, loc);
}
