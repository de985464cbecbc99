// Pass 3: the order steps are issued in. Kahn's algorithm over the units; among the ready
// ones, program order (smallest node position) decides, except that with
// reorder_for_memory a step that frees at least as many bytes as it allocates goes first
// (an optimizer update as soon as its gradient exists, a consumer before a new producer).
// A step reading the result of a collective (an op flagged comm_stream: an update reading
// its all-reduced gradient) goes after every other ready step: issued earlier, it would
// make its stream wait for the communication instead of going on with backward. Among
// such steps, those of the collective issued first go first, so an update waits only for
// its own bucket, not for a later one that a step before it on its stream waited for.
#include <algorithm>
#include <map>
#include <set>

#include "runtime/error.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler::detail {

namespace {

size_t value_bytes(const Graph& g, ValueRef v) {
  const TensorType& t = g.node(v.node).outputs[v.index];
  return static_cast<size_t>(t.shape.numel()) * dtype_size(t.dtype);
}

struct RootKey {
  int node, index;
  bool operator<(const RootKey& o) const { return node != o.node ? node < o.node : index < o.index; }
};

}  // namespace

std::vector<int> order_units(const NodeGraph& ng, const Units& u, const CompileOptions& opt) {
  const Graph& g = *ng.graph;
  const int nu = static_cast<int>(u.members.size());
  std::vector<int> first_pos(nu), indegree(nu);
  std::vector<std::vector<int>> succ(nu);
  std::vector<bool> is_comm(nu, false), after_comm(nu, false);
  for (int k = 0; k < nu; ++k)
    for (int m : u.members[k])
      if (g.node(m).op->flags.comm_stream) is_comm[k] = true;
  for (int k = 0; k < nu; ++k)
    for (int d : u.deps[k]) after_comm[k] = after_comm[k] || is_comm[d];
  for (int k = 0; k < nu; ++k) {
    first_pos[k] = ng.position[u.members[k][0]];
    for (int m : u.members[k]) first_pos[k] = std::min(first_pos[k], ng.position[m]);
    indegree[k] = static_cast<int>(u.deps[k].size());
    for (int d : u.deps[k]) succ[d].push_back(k);
  }

  // Memory estimate per unit: bytes it materialises, and the computed values it reads
  // (by alias root) with how many units still have to read each.
  std::vector<size_t> alloc(nu, 0);
  std::vector<std::vector<RootKey>> reads(nu);
  std::map<RootKey, int> remaining;
  if (opt.reorder_for_memory) {
    for (int k = 0; k < nu; ++k) {
      for (const ValueRef& v : unit_outputs(ng, u, k)) alloc[k] += value_bytes(g, v);
      std::set<RootKey> roots;
      for (const ValueRef& v : unit_inputs(ng, u, k)) {
        ValueRef r = alias_root(ng, v);
        if (ng.role[r.node] == Role::compute && !ng.requested(r)) roots.insert(RootKey{r.node, r.index});
      }
      reads[k].assign(roots.begin(), roots.end());
      for (const RootKey& r : reads[k]) ++remaining[r];
    }
  }
  auto frees_memory = [&](int k) {
    size_t freed = 0;
    for (const RootKey& r : reads[k])
      if (remaining[r] == 1) freed += value_bytes(g, ValueRef{r.node, r.index});
    return freed >= alloc[k];
  };

  // The position among collectives of the last one a step reads (set when issued).
  std::vector<int> comm_issued(nu, -1);
  int n_comm_issued = 0;
  auto comm_key = [&](int k) {
    int key = -1;
    for (int d : u.deps[k])
      if (is_comm[d]) key = std::max(key, comm_issued[d]);
    return key;
  };

  std::vector<int> ready, order;
  for (int k = 0; k < nu; ++k)
    if (indegree[k] == 0) ready.push_back(k);
  while (!ready.empty()) {
    size_t best = 0;
    bool best_frees = opt.reorder_for_memory && frees_memory(ready[0]);
    for (size_t i = 1; i < ready.size(); ++i) {
      bool f = opt.reorder_for_memory && frees_memory(ready[i]);
      int a = ready[i], b = ready[best];
      bool better;
      if (after_comm[a] != after_comm[b]) better = !after_comm[a];
      else if (after_comm[a] && comm_key(a) != comm_key(b)) better = comm_key(a) < comm_key(b);
      else better = f != best_frees ? f : first_pos[a] < first_pos[b];
      if (better) best = i, best_frees = f;
    }
    int k = ready[best];
    ready.erase(ready.begin() + static_cast<long>(best));
    order.push_back(k);
    if (is_comm[k]) comm_issued[k] = n_comm_issued++;
    for (const RootKey& r : reads[k]) --remaining[r];
    for (int s : succ[k])
      if (--indegree[s] == 0) ready.push_back(s);
  }
  if (static_cast<int>(order.size()) != nu) throw InternalError("[scheduler] fusion produced a cycle of steps");
  return order;
}

}  // namespace dagrad::scheduler::detail
