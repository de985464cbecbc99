// Optimizer update nodes: they write parameters and optimizer state in place
// (OpDef::writes_inputs), so each update depends only on its own gradient and the
// scheduler can run it while the rest of backward is still running.
#include "ops/builtin_ops.h"
#include "ops/defs/families.h"
#include "ops/ops.h"
#include "ops/params/optim.h"
#include "ops/registry.h"

namespace dagrad {

namespace op {  // the handles of ops/builtin_ops.h
const OpDef *sgd_update, *adam_update;
}  // namespace op

namespace {

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
  if (c.params<SgdParams>().momentum != 0 && c.inputs.size() != 4) c.fail("momentum > 0 needs a momentum buffer input");
  return {};
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

Cost update_cost(const Node& n, double flops_per_element, int state_tensors) {
  double numel = static_cast<double>(n.inputs[0].shape().numel());
  double bytes = numel * static_cast<double>(dtype_size(n.inputs[0].dtype()));
  return Cost{flops_per_element * numel, bytes * (2 + state_tensors), bytes * (1 + state_tensors)};
}

Cost sgd_cost(const Node& n) { return update_cost(n, 6, n.inputs.size() == 4 ? 1 : 0); }
Cost adam_cost(const Node& n) { return update_cost(n, 14, 2); }

}  // namespace

void register_optim_ops(OpRegistry& r) {
  op::sgd_update = &r.add({.name = "sgd_update",
                           .kind = OpKind::optimizer,
                           .params = params_codec<SgdParams>(),
                           .infer = infer_sgd,
                           .cost = sgd_cost,
                           .writes_inputs = {0, 3},
                           .nondiff_inputs = {0, 1, 2, 3},
                           .doc = "SGD step with momentum, Nesterov and weight decay, in place"});
  op::adam_update = &r.add({.name = "adam_update",
                            .kind = OpKind::optimizer,
                            .params = params_codec<AdamParams>(),
                            .infer = infer_adam,
                            .cost = adam_cost,
                            .writes_inputs = {0, 3, 4, 5},
                            .nondiff_inputs = {0, 1, 2, 3, 4, 5},
                            .doc = "Adam / AdamW step, in place"});
}

int sgd_update(Value param, Value grad, Value lr, Value momentum_buf, SgdOptions opt, const std::source_location& loc) {
  std::vector<Value> ins{param, grad, lr};
  if (momentum_buf.valid()) ins.push_back(momentum_buf);
  return param.graph->add_node(op_def("sgd_update"), ins, encode_params(opt), {}, loc);
}

int adam_update(Value param, Value grad, Value lr, Value m, Value v, Value t, AdamOptions opt,
                const std::source_location& loc) {
  return param.graph->add_node(op_def("adam_update"), {param, grad, lr, m, v, t}, encode_params(opt), {}, loc);
}

}  // namespace dagrad
