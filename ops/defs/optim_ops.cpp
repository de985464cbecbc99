// Optimizer update nodes: they write parameters and optimizer state in place
// (OpDef::writes_inputs), so each update depends only on its own gradient and the
// scheduler can run it while the rest of backward is still running.
#include <cmath>

#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/optim_math.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kGrain = 1 << 14;

void expect_like_param(const InferContext& c, size_t i, const char* what) {
  if (c.inputs[i].shape != c.inputs[0].shape || c.inputs[i].dtype != c.inputs[0].dtype)
    c.fail(str_cat(what, " is ", c.inputs[i].to_string(), " but the parameter is ", c.inputs[0].to_string()));
}

void expect_scalar(const InferContext& c, size_t i, const char* what) {
  if (c.inputs[i].shape.numel() != 1 || c.inputs[i].dtype != DType::f32)
    c.fail(str_cat(what, " must be a float32 scalar, got ", c.inputs[i].to_string()));
}

std::vector<TensorType> infer_sgd(const InferContext& c) {
  if (c.inputs.size() != 3 && c.inputs.size() != 4)
    c.fail(str_cat("expects param, grad, lr and an optional momentum buffer, got ", c.inputs.size(), " inputs"));
  c.expect_floating(0);
  expect_like_param(c, 1, "grad");
  expect_scalar(c, 2, "lr");
  if (c.inputs.size() == 4) expect_like_param(c, 3, "momentum buffer");
  if (c.attrs.get_float_or("momentum", 0) != 0 && c.inputs.size() != 4)
    c.fail("momentum > 0 needs a momentum buffer input");
  return {};
}

void sgd_cpu(const KernelContext& ctx) {
  const Attrs& a = ctx.node.attrs;
  float lr = ctx.inputs[2].data<float>()[0];
  bool has_buf = ctx.inputs.size() == 4;
  dispatch_floating(ctx.inputs[0].dtype(), "sgd_update", [&]<class T>() {
    SgdStep<T> step{T(lr), T(a.get_float_or("momentum", 0)), T(a.get_float_or("weight_decay", 0)),
                    a.get_bool_or("nesterov", false)};
    T* p = ctx.inputs[0].data<T>();
    const T* g = ctx.inputs[1].data<T>();
    T* buf = has_buf ? ctx.inputs[3].data<T>() : nullptr;
    parallel_for(0, ctx.inputs[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) step(p[i], g[i], buf ? buf + i : nullptr);
    });
  });
}

std::vector<TensorType> infer_adam(const InferContext& c) {
  c.expect_inputs(6);
  c.expect_floating(0);
  expect_like_param(c, 1, "grad");
  expect_scalar(c, 2, "lr");
  expect_like_param(c, 3, "first moment m");
  expect_like_param(c, 4, "second moment v");
  expect_scalar(c, 5, "step count t");
  return {};
}

void adam_cpu(const KernelContext& ctx) {
  const Attrs& a = ctx.node.attrs;
  float lr = ctx.inputs[2].data<float>()[0];
  float& t = ctx.inputs[5].data<float>()[0];
  t += 1;  // the kernel owns the step count: one increment per update
  double b1 = a.get_float_or("beta1", 0.9), b2 = a.get_float_or("beta2", 0.999);
  dispatch_floating(ctx.inputs[0].dtype(), "adam_update", [&]<class T>() {
    AdamStep<T> step{T(lr),
                     T(b1),
                     T(b2),
                     T(a.get_float_or("eps", 1e-8)),
                     T(a.get_float_or("weight_decay", 0)),
                     a.get_bool_or("decoupled", false),
                     T(1 - std::pow(b1, double(t))),
                     T(std::sqrt(1 - std::pow(b2, double(t))))};
    T* p = ctx.inputs[0].data<T>();
    const T* g = ctx.inputs[1].data<T>();
    T* m = ctx.inputs[3].data<T>();
    T* v = ctx.inputs[4].data<T>();
    parallel_for(0, ctx.inputs[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) step(p[i], g[i], m[i], v[i]);
    });
  });
}

Cost update_cost(const Node& n, double flops_per_element, int state_tensors) {
  double numel = static_cast<double>(n.inputs[0].shape().numel());
  double bytes = numel * static_cast<double>(dtype_size(n.inputs[0].dtype()));
  return Cost{flops_per_element * numel, bytes * (2 + state_tensors), bytes * (1 + state_tensors)};
}

}  // namespace

void register_optim_ops(OpRegistry& r) {
  OpDef sgd;
  sgd.name = "sgd_update";
  sgd.attrs = {{"momentum", AttrKind::Float}, {"weight_decay", AttrKind::Float}, {"nesterov", AttrKind::Bool}};
  sgd.infer = infer_sgd;
  sgd.kernels[0] = sgd_cpu;
  sgd.writes_inputs = {0, 3};
  sgd.nondiff_inputs = {0, 1, 2, 3};
  sgd.cost = [](const Node& n) { return update_cost(n, 6, n.inputs.size() == 4 ? 1 : 0); };
  sgd.doc = "SGD step with momentum, Nesterov and weight decay, in place";
  r.add(std::move(sgd));

  OpDef adam;
  adam.name = "adam_update";
  adam.attrs = {{"beta1", AttrKind::Float},        {"beta2", AttrKind::Float},    {"eps", AttrKind::Float},
                {"weight_decay", AttrKind::Float}, {"decoupled", AttrKind::Bool}};
  adam.infer = infer_adam;
  adam.kernels[0] = adam_cpu;
  adam.writes_inputs = {0, 3, 4, 5};
  adam.nondiff_inputs = {0, 1, 2, 3, 4, 5};
  adam.cost = [](const Node& n) { return update_cost(n, 14, 2); };
  adam.doc = "Adam / AdamW step, in place";
  r.add(std::move(adam));
}

int sgd_update(Value param, Value grad, Value lr, Value momentum_buf, SgdOptions opt, const std::source_location& loc) {
  std::vector<Value> ins{param, grad, lr};
  if (momentum_buf.valid()) ins.push_back(momentum_buf);
  Attrs a{{"momentum", opt.momentum}, {"weight_decay", opt.weight_decay}, {"nesterov", opt.nesterov}};
  return param.graph->add_node(op_def("sgd_update"), ins, a, {}, loc);
}

int adam_update(Value param, Value grad, Value lr, Value m, Value v, Value t, AdamOptions opt,
                const std::source_location& loc) {
  Attrs a{{"beta1", opt.beta1},
          {"beta2", opt.beta2},
          {"eps", opt.eps},
          {"weight_decay", opt.weight_decay},
          {"decoupled", opt.decoupled_weight_decay}};
  return param.graph->add_node(op_def("adam_update"), {param, grad, lr, m, v, t}, a, {}, loc);
}

}  // namespace dagrad
