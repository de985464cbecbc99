// Pass 2: fusion. Elementwise nodes of one output shape and compute type (float32 with
// bfloat16 and float16, or float64) merge, along their data edges, into groups (chains
// and trees; casts between float32 and the 16-bit floats among them); a group can then fold into the matmul or
// convolution that produces its input, as an epilogue run in the same step. (When the
// producer's output is used nowhere else, memory planning lets the epilogue overwrite it
// in place; otherwise it is kept, e.g. for relu_backward.) A merge is refused when it
// would put a cycle into the graph of steps: when some path leaves the group and comes
// back.
#include <algorithm>
#include <set>

#include "ops/op_def.h"
#include "runtime/error.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler::detail {

namespace {

// Input `in` reaches every element of `out` by NumPy broadcasting.
bool broadcasts_to(const Shape& in, const Shape& out) {
  if (in.rank() > out.rank()) return false;
  size_t off = out.rank() - in.rank();
  for (size_t d = 0; d < in.rank(); ++d)
    if (in[d] != 1 && in[d] != out[d + off]) return false;
  return true;
}

// Has a per-element form the fused kernel can evaluate.
bool fusible(const NodeGraph& ng, int id) {
  if (ng.role[id] != Role::compute) return false;
  const Node& n = ng.graph->node(id);
  const OpDef& op = *n.op;
  if (!op.elementwise || !op.writes_inputs.empty() || n.outputs.size() != 1) return false;
  DType dt = n.outputs[0].dtype;
  if (!is_float(dt) || static_cast<int>(n.inputs.size()) != op.elementwise->arity) return false;
  for (const Value& v : n.inputs)
    if (compute_dtype(v.dtype()) != compute_dtype(dt) || !broadcasts_to(v.shape(), n.outputs[0].shape)) return false;
  return true;
}

class UnitBuilder {
 public:
  explicit UnitBuilder(const NodeGraph& ng) : ng_(ng) {
    unit_of_.assign(ng.graph->num_nodes(), -1);
    for (int id : ng.compute_order) {
      unit_of_[id] = static_cast<int>(members_.size());
      members_.push_back({id});
      kernel_.push_back(-1);
    }
    stamp_.assign(members_.size(), 0);
  }

  int unit_of(int node) const { return unit_of_[node]; }
  const std::vector<int>& members(int u) const { return members_[u]; }
  int kernel(int u) const { return kernel_[u]; }
  size_t num_units() const { return members_.size(); }

  // Folds unit `from` into unit `into`.
  void merge(int from, int into) {
    for (int m : members_[from]) unit_of_[m] = into;
    members_[into].insert(members_[into].end(), members_[from].begin(), members_[from].end());
    members_[from].clear();
  }
  void set_kernel(int u, int node) { kernel_[u] = node; }

  // True when some path runs from unit `a` to unit `b` through a unit other than the two:
  // merging them would then make a cycle. Searches b's ancestors, pruned by position.
  bool path_through_outside(int a, int b) {
    int a_min = ng_.graph->num_nodes();
    for (int m : members_[a]) a_min = std::min(a_min, ng_.position[m]);
    ++current_stamp_;
    std::vector<int> stack;
    auto push_preds = [&](int u) {
      for (int m : members_[u])
        for (int d : ng_.deps[m]) {
          int du = unit_of_[d];
          if (du != a && du != b && stamp_[du] != current_stamp_) {
            stamp_[du] = current_stamp_;
            stack.push_back(du);
          }
        }
    };
    push_preds(b);
    while (!stack.empty()) {
      int u = stack.back();
      stack.pop_back();
      int u_max = -1;
      for (int m : members_[u]) u_max = std::max(u_max, ng_.position[m]);
      if (u_max < a_min) continue;  // entirely before a: cannot descend from it
      for (int m : members_[u])
        for (int d : ng_.deps[m])
          if (unit_of_[d] == a) return true;
      push_preds(u);
    }
    return false;
  }

 private:
  const NodeGraph& ng_;
  std::vector<int> unit_of_;
  std::vector<std::vector<int>> members_;
  std::vector<int> kernel_;  // epilogue host node per unit, or -1
  std::vector<uint32_t> stamp_;
  uint32_t current_stamp_ = 0;
};

// One shape and one compute type: a fused program's registers are all alike.
bool same_type(const Node& a, const Node& b) {
  const TensorType &x = a.outputs[0], &y = b.outputs[0];
  return x.shape == y.shape && compute_dtype(x.dtype) == compute_dtype(y.dtype);
}

bool is_epilogue_producer(const NodeGraph& ng, int id) {
  const Node& n = ng.graph->node(id);
  return ng.role[id] == Role::compute && n.op->writes_inputs.empty() && n.op->flags.accepts_epilogue;
}

}  // namespace

Units fuse(const NodeGraph& ng, const CompileOptions& opt) {
  const Graph& g = *ng.graph;
  UnitBuilder b(ng);
  std::vector<char> ok(g.num_nodes(), 0);
  for (int id : ng.compute_order) ok[id] = opt.fuse && fusible(ng, id);

  // A member reading a view of another member would read bytes the group has not
  // written yet (views are not part of the tile program): such groups are not formed.
  auto reads_view_of = [&](int reader_unit, int other_unit) {
    for (int m : b.members(reader_unit))
      for (const Value& v : g.node(m).inputs) {
        if (ng.role[v.node] != Role::view) continue;
        int u = b.unit_of(alias_root(ng, ValueRef{v.node, v.index}).node);
        if (u == reader_unit || u == other_unit) return true;
      }
    return false;
  };

  // Grow groups in topological order: a node joins the groups of its fusible producers.
  for (int id : ng.compute_order) {
    if (!ok[id]) continue;
    for (const Value& v : g.node(id).inputs) {
      int p = v.node;
      if (ng.role[p] != Role::compute || !ok[p] || !same_type(g.node(p), g.node(id))) continue;
      int from = b.unit_of(p), into = b.unit_of(id);
      if (from == into || b.members(from).size() + b.members(into).size() > opt.max_group_size) continue;
      if (reads_view_of(from, into) || reads_view_of(into, from) || b.path_through_outside(from, into)) continue;
      b.merge(from, into);
    }
  }

  // Epilogues: a group reading a GEMM-like producer's output runs in the producer's step.
  auto try_epilogue = [&](int u) {
    const std::vector<int> mem = b.members(u);
    for (int m : mem)
      if (!g.node(m).op->flags.epilogue_fusible) return;
    std::set<int> member_set(mem.begin(), mem.end());
    // An epilogue runs over the producer's output 0 (max pooling's index, output 1, is
    // not one it may read).
    auto reads_other_output = [&](int p) {
      for (int m : mem)
        for (const Value& v : g.node(m).inputs)
          if (v.node == p && v.index != 0) return true;
      return false;
    };
    for (int m : mem)
      for (const Value& v : g.node(m).inputs) {
        int p = v.node;
        if (member_set.count(p) || !is_epilogue_producer(ng, p) || reads_other_output(p)) continue;
        int pu = b.unit_of(p);
        if (b.members(pu).size() != 1 || b.kernel(pu) != -1 || !same_type(g.node(p), g.node(m))) continue;
        if (b.path_through_outside(pu, u)) continue;
        b.merge(u, pu);
        b.set_kernel(pu, p);
        return;
      }
  };
  if (opt.fuse && opt.fuse_epilogues) {
    std::vector<char> tried(b.num_units(), 0);
    for (int id : ng.compute_order) {
      int u = b.unit_of(id);
      if (!ok[id] || tried[u] || b.kernel(u) != -1) continue;
      tried[u] = 1;
      try_epilogue(u);
    }
  }

  // Compact the live units in topological order of their first member.
  Units out;
  out.unit_of.assign(g.num_nodes(), -1);
  std::vector<int> new_id(b.num_units(), -1);
  for (int id : ng.compute_order) {
    int u = b.unit_of(id);
    if (new_id[u] != -1) continue;
    new_id[u] = static_cast<int>(out.members.size());
    std::vector<int> mem = b.members(u);
    int kernel = b.kernel(u);
    std::sort(mem.begin(), mem.end(), [&](int x, int y) {
      if ((x == kernel) != (y == kernel)) return x == kernel;
      return ng.position[x] < ng.position[y];
    });
    for (int m : mem) out.unit_of[m] = new_id[u];
    bool is_group = kernel != -1 || mem.size() > 1;
    out.fused.push_back(kernel == -1 && mem.size() > 1);
    out.group.push_back(is_group ? static_cast<int>(out.groups.size()) : -1);
    if (is_group) {
      FusedGroup grp;
      grp.id = static_cast<int>(out.groups.size());
      grp.epilogue_of = kernel;
      for (int m : mem)
        if (m != kernel) grp.nodes.push_back(m);
      grp.shape = g.node(grp.nodes.front()).outputs[0].shape;
      grp.dtype = compute_dtype(g.node(grp.nodes.front()).outputs[0].dtype);
      std::set<int> in_group(grp.nodes.begin(), grp.nodes.end());
      for (int m : grp.nodes) {
        for (const Value& v : g.node(m).inputs) {
          ValueRef r{v.node, v.index};
          if (!in_group.count(v.node) && std::find(grp.inputs.begin(), grp.inputs.end(), r) == grp.inputs.end())
            grp.inputs.push_back(r);
        }
        const auto& rd = ng.readers[m];
        bool used_outside = std::any_of(rd.begin(), rd.end(), [&](int r) { return !in_group.count(r); });
        if (used_outside || ng.requested(ValueRef{m, 0})) grp.outputs.push_back(ValueRef{m, 0});
      }
      out.groups.push_back(std::move(grp));
    }
    out.members.push_back(std::move(mem));
  }

  out.deps.resize(out.members.size());
  for (size_t u = 0; u < out.members.size(); ++u) {
    std::set<int> d;
    for (int m : out.members[u])
      for (int p : ng.deps[m])
        if (out.unit_of[p] != static_cast<int>(u)) d.insert(out.unit_of[p]);
    out.deps[u].assign(d.begin(), d.end());
  }
  return out;
}

std::vector<ValueRef> unit_inputs(const NodeGraph& ng, const Units& u, int unit) {
  const Graph& g = *ng.graph;
  std::vector<ValueRef> in;
  auto add = [&](ValueRef r) {
    if (std::find(in.begin(), in.end(), r) == in.end()) in.push_back(r);
  };
  int gid = u.group[unit];
  if (gid < 0) {
    for (const Value& v : g.node(u.members[unit][0]).inputs) add(ValueRef{v.node, v.index});
    return in;
  }
  const FusedGroup& grp = u.groups[gid];
  if (grp.epilogue_of >= 0)
    for (const Value& v : g.node(grp.epilogue_of).inputs) add(ValueRef{v.node, v.index});
  for (const ValueRef& r : grp.inputs)
    if (r.node != grp.epilogue_of) add(r);
  return in;
}

std::vector<ValueRef> unit_outputs(const NodeGraph& ng, const Units& u, int unit) {
  const Graph& g = *ng.graph;
  int gid = u.group[unit];
  std::vector<ValueRef> out;
  int kernel = gid < 0 ? u.members[unit][0] : u.groups[gid].epilogue_of;
  if (kernel >= 0)
    for (size_t i = 0; i < g.node(kernel).outputs.size(); ++i) out.push_back(ValueRef{kernel, static_cast<int>(i)});
  if (gid >= 0)
    for (const ValueRef& r : u.groups[gid].outputs) out.push_back(r);
  return out;
}

}  // namespace dagrad::scheduler::detail
