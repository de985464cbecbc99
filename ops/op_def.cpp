#include "ops/op_def.h"

#include "runtime/error.h"

namespace dagrad {

std::string_view op_kind_name(OpKind k) {
  switch (k) {
    case OpKind::source: return "source";
    case OpKind::elementwise: return "elementwise";
    case OpKind::gemm: return "gemm";
    case OpKind::convolution: return "convolution";
    case OpKind::pooling: return "pooling";
    case OpKind::reduction: return "reduction";
    case OpKind::normalization: return "normalization";
    case OpKind::loss: return "loss";
    case OpKind::optimizer: return "optimizer";
    case OpKind::collective: return "collective";
    case OpKind::shape: return "shape";
    case OpKind::other: return "other";
  }
  return "?";
}

void InferContext::fail(const std::string& msg) const { throw ShapeError(str_cat("[", op.name, "] ", msg)); }

void InferContext::expect_inputs(size_t n) const {
  if (inputs.size() != n) fail(str_cat("expects ", n, " inputs, got ", inputs.size()));
}

void InferContext::expect_floating(size_t i) const {
  if (!is_floating(inputs[i].dtype))
    throw TypeError(str_cat("[", op.name, "] input ", i, " must be float32 or float64, got ",
                            dtype_name(inputs[i].dtype)));
}

void InferContext::expect_float(size_t i) const {
  if (!is_float(inputs[i].dtype))
    throw TypeError(str_cat("[", op.name, "] input ", i, " must be a floating-point dtype, got ",
                            dtype_name(inputs[i].dtype)));
}

void InferContext::expect_same_dtype() const {
  for (size_t i = 1; i < inputs.size(); ++i)
    if (inputs[i].dtype != inputs[0].dtype)
      throw TypeError(str_cat("[", op.name, "] input ", i, " is ", dtype_name(inputs[i].dtype), " but input 0 is ",
                              dtype_name(inputs[0].dtype), "; convert one of them"));
}

DType InferContext::product_dtype() const {
  DAGRAD_ASSERT(!op.low_precision_inputs.empty());
  const size_t first = static_cast<size_t>(op.low_precision_inputs.front());
  for (int slot : op.low_precision_inputs) {
    const size_t i = static_cast<size_t>(slot);
    if (i >= inputs.size()) continue;
    expect_float(i);
    if (inputs[i].dtype != inputs[first].dtype)
      throw TypeError(str_cat("[", op.name, "] input ", i, " is ", dtype_name(inputs[i].dtype), " but input ", first,
                              " is ", dtype_name(inputs[first].dtype), "; convert one of them"));
  }
  return compute_dtype(inputs[first].dtype);
}

Cost OpDef::cost_of(const Node& n) const {
  if (cost) return cost(n);
  Cost c;
  for (const Value& v : n.inputs) c.bytes_read += static_cast<double>(v.shape().numel() * dtype_size(v.dtype()));
  for (const TensorType& t : n.outputs) c.bytes_written += static_cast<double>(t.shape.numel() * dtype_size(t.dtype));
  if (kind == OpKind::elementwise && !n.outputs.empty()) c.flops = static_cast<double>(n.outputs[0].shape.numel());
  return c;
}

}  // namespace dagrad
