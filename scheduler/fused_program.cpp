#include "scheduler/fused_program.h"

#include <algorithm>
#include <array>

#include "runtime/error.h"
#include "scheduler/cuda_fused.h"

namespace dagrad::scheduler {

namespace {

FusedProgram::Input describe_input(const Shape& in, const Shape& out) {
  FusedProgram::Input x;
  x.shape = in;
  if (in == out) return x;
  if (in.numel() == 1) {
    x.mode = FusedProgram::Input::Mode::scalar;
    return x;
  }
  x.mode = FusedProgram::Input::Mode::broadcast;
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

std::array<FusedLauncher, kNumDeviceTypes>& launchers() {
  static std::array<FusedLauncher, kNumDeviceTypes> table = [] {
    std::array<FusedLauncher, kNumDeviceTypes> t{};
    t[static_cast<int>(DeviceType::cpu)] = run_fused_cpu;
    t[static_cast<int>(DeviceType::cuda)] = cuda_fused_launcher();  // null without CUDA
    return t;
  }();
  return table;
}

}  // namespace

FusedProgram FusedProgram::from_group(const Graph& g, const FusedGroup& group) {
  FusedProgram p;
  p.shape = group.shape;
  p.dtype = group.dtype;
  for (const ValueRef& v : group.inputs)
    p.inputs.push_back(describe_input(g.node(v.node).outputs[v.index].shape, p.shape));
  const int ni = static_cast<int>(group.inputs.size());
  for (int m : group.nodes) {
    const Node& n = g.node(m);
    Instr ins;
    ins.node = m;
    ins.def = &n.op->elementwise;
    if (ins.def->params) ins.params = ins.def->params(n.attrs);
    for (const Value& v : n.inputs) {
      auto reg = std::find(group.nodes.begin(), group.nodes.end(), v.node);
      if (reg != group.nodes.end() && reg - group.nodes.begin() < static_cast<long>(p.instrs.size())) {
        ins.args.push_back(ni + static_cast<int>(reg - group.nodes.begin()));
      } else {
        auto ext = std::find(group.inputs.begin(), group.inputs.end(), ValueRef{v.node, v.index});
        DAGRAD_ASSERT(ext != group.inputs.end());
        ins.args.push_back(static_cast<int>(ext - group.inputs.begin()));
      }
    }
    p.instrs.push_back(std::move(ins));
  }
  for (const ValueRef& v : group.outputs) {
    auto it = std::find(group.nodes.begin(), group.nodes.end(), v.node);
    DAGRAD_ASSERT(it != group.nodes.end());
    p.outputs.push_back(static_cast<int>(it - group.nodes.begin()));
  }
  return p;
}

FusedLauncher fused_launcher(DeviceType d) { return launchers()[static_cast<int>(d)]; }
void set_fused_launcher(DeviceType d, FusedLauncher launcher) { launchers()[static_cast<int>(d)] = launcher; }

}  // namespace dagrad::scheduler
