#include "ops/elementwise_program.h"

#include <algorithm>

#include "runtime/error.h"

namespace dagrad {

namespace {

using Input = ElementwiseProgram::Input;

Input describe_input(const Shape& in, DType dtype, const Shape& out) {
  Input x;
  x.shape = in;
  x.dtype = dtype;
  if (in == out) return x;
  if (in.numel() == 1) {
    x.mode = Input::Mode::scalar;
    return x;
  }
  x.mode = Input::Mode::broadcast;
  // Align right; the input's contiguous stride per output dim, 0 where broadcast.
  const size_t r = out.rank(), off = r - in.rank();
  std::vector<int64_t> stride(r, 0);
  int64_t s = 1;
  for (size_t d = r; d-- > off;) {
    int64_t dim = in[d - off];
    stride[d] = dim == 1 ? 0 : s;
    s *= dim;
  }
  // Drop size-1 output dims, then merge neighbours whose strides chain.
  for (size_t d = 0; d < r; ++d) {
    if (out[d] == 1) continue;
    if (!x.dims.empty() && x.strides.back() == stride[d] * out[d]) {
      x.dims.back() *= out[d];
      x.strides.back() = stride[d];
    } else {
      x.dims.push_back(out[d]);
      x.strides.push_back(stride[d]);
    }
  }
  return x;
}

}  // namespace

ElementwiseProgram ElementwiseProgram::from_nodes(const Graph& g, std::span<const int> nodes,
                                                  std::span<const Value> inputs, std::span<const int> outputs) {
  DAGRAD_ASSERT(!nodes.empty());
  ElementwiseProgram p;
  const TensorType& type = g.node(nodes.front()).outputs[0];
  p.shape = type.shape;
  p.dtype = compute_dtype(type.dtype);
  for (const Value& v : inputs) {
    DAGRAD_ASSERT(compute_dtype(v.dtype()) == p.dtype);
    p.inputs.push_back(describe_input(v.shape(), v.dtype(), p.shape));
  }
  const int ni = static_cast<int>(inputs.size());
  for (int m : nodes) {
    const Node& n = g.node(m);
    DAGRAD_ASSERT(n.op->elementwise.has_value());
    Instr ins;
    ins.node = m;
    ins.dtype = n.outputs[0].dtype;
    DAGRAD_ASSERT(compute_dtype(ins.dtype) == p.dtype);
    ins.def = &*n.op->elementwise;
    ins.params.resize(ins.def->num_params);
    if (ins.def->num_params) ins.def->params(n, ins.params.data());
    for (const Value& v : n.inputs) {
      auto reg = std::find(nodes.begin(), nodes.end(), v.node);
      if (reg != nodes.end() && reg - nodes.begin() < static_cast<long>(p.instrs.size())) {
        ins.args.push_back(ni + static_cast<int>(reg - nodes.begin()));
      } else {
        auto ext = std::find(inputs.begin(), inputs.end(), v);
        DAGRAD_ASSERT(ext != inputs.end());
        ins.args.push_back(static_cast<int>(ext - inputs.begin()));
      }
    }
    p.instrs.push_back(std::move(ins));
  }
  for (int out : outputs) {
    auto it = std::find(nodes.begin(), nodes.end(), out);
    DAGRAD_ASSERT(it != nodes.end());
    p.outputs.push_back(static_cast<int>(it - nodes.begin()));
  }
  return p;
}

ElementwiseProgram ElementwiseProgram::from_node(const Node& n) {
  const int id = n.id;
  return from_nodes(*n.graph, std::span<const int>(&id, 1), n.inputs, std::span<const int>(&id, 1));
}

}  // namespace dagrad
