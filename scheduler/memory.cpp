// Pass 5: memory. Every materialised value gets a buffer; views share their input's;
// inputs and parameters are bound, not planned. In place: an output takes the buffer of
// an input that dies at its step. Offsets in one arena, greedy by size with best fit.
//
// The reuse rule, for any number of streams: two buffers may share bytes only when
// every access of one happens before the first write of the other, in the order that
// stream order plus events guarantee (vector clocks). With one stream that is "live
// ranges do not overlap". With several, a buffer freed on one stream is reused on
// another only when an event chain already orders the two; no event is ever added for
// the sake of reuse.
#include <algorithm>
#include <numeric>

#include "ops/op_def.h"
#include "runtime/error.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler::detail {

namespace {

size_t round_up(size_t x, size_t a) { return a == 0 ? x : (x + a - 1) / a * a; }

struct Builder {
  const NodeGraph& ng;
  const Units& u;
  const std::vector<int>& order;
  const StreamPlan& sp;
  const CompileOptions& opt;

  std::vector<Buffer> bufs;
  std::vector<int> parent;             // union-find: in-place merges
  std::vector<std::vector<int>> uses;  // per buffer: compute indices, ascending
  std::vector<std::vector<int>> value_buffer;
  std::vector<std::vector<int>> reads, writes;

  int find(int b) {
    while (parent[b] != b) b = parent[b] = parent[parent[b]];
    return b;
  }

  int add_buffer(ValueRef v, Buffer::Kind kind) {
    const Node& n = ng.graph->node(v.node);
    Buffer b;
    b.id = static_cast<int>(bufs.size());
    b.kind = kind;
    b.name = v.index == 0 ? n.name : str_cat(n.name, ":", v.index);
    b.value = v;
    b.aliases = {v};
    b.dtype = n.outputs[v.index].dtype;
    b.shape = n.outputs[v.index].shape;
    b.bytes = static_cast<size_t>(b.shape.numel()) * dtype_size(b.dtype);
    int id = b.id;
    bufs.push_back(std::move(b));
    parent.push_back(id);
    uses.emplace_back();
    value_buffer[v.node][v.index] = id;
    return id;
  }

  int buffer_of(ValueRef v) {
    int b = value_buffer[v.node][v.index];
    if (b < 0)
      throw InternalError(
          str_cat("[scheduler] value ", ng.graph->node(v.node).name, ":", v.index, " is read but has no buffer"));
    return find(b);
  }

  // Every access of b other than step k happens before k, and none comes after.
  bool dies_at(int b, int k) const {
    for (int x : uses[b])
      if (x != k && (x > k || !sp.happens_before(x, k))) return false;
    return true;
  }

  void create_buffers() {
    const Graph& g = *ng.graph;
    const int n = static_cast<int>(g.num_nodes());
    value_buffer.resize(n);
    for (int id = 0; id < n; ++id) value_buffer[id].assign(g.node(id).outputs.size(), -1);
    for (int id = 0; id < n; ++id)
      if (ng.role[id] == Role::bound) add_buffer(ValueRef{id, 0}, Buffer::Kind::bound);
    for (int unit : order)
      for (const ValueRef& v : unit_outputs(ng, u, unit)) add_buffer(v, Buffer::Kind::arena);
    for (int id = 0; id < n; ++id)
      if (ng.role[id] == Role::view) {
        int b = value_buffer[alias_root(ng, ValueRef{id, 0}).node][alias_root(ng, ValueRef{id, 0}).index];
        if (b < 0) throw InternalError(str_cat("[scheduler] view '", g.node(id).name, "' of an unmaterialised value"));
        value_buffer[id][0] = b;
        bufs[b].aliases.push_back(ValueRef{id, 0});
      }
    for (const ValueRef& v : ng.outputs) bufs[buffer_of(v)].is_output = true;
  }

  void collect_uses() {
    const Graph& g = *ng.graph;
    const int nu = static_cast<int>(order.size());
    reads.assign(nu, {});
    writes.assign(nu, {});
    for (int k = 0; k < nu; ++k) {
      int unit = order[k];
      for (const ValueRef& v : unit_inputs(ng, u, unit)) reads[k].push_back(buffer_of(v));
      for (const ValueRef& v : unit_outputs(ng, u, unit)) writes[k].push_back(buffer_of(v));
      int gid = u.group[unit];
      if (gid >= 0 && u.groups[gid].epilogue_of >= 0) reads[k].push_back(buffer_of({u.groups[gid].epilogue_of, 0}));
      for (int m : u.members[unit]) {
        const Node& node = g.node(m);
        for (int slot : node.op->writes_inputs)
          if (slot < static_cast<int>(node.inputs.size()))
            writes[k].push_back(buffer_of({node.inputs[slot].node, node.inputs[slot].index}));
      }
      for (int b : reads[k]) uses[b].push_back(k);
      for (int b : writes[k]) uses[b].push_back(k);
    }
    for (auto& x : uses) {
      std::sort(x.begin(), x.end());
      x.erase(std::unique(x.begin(), x.end()), x.end());
    }
  }

  bool try_inplace(int k, ValueRef in, ValueRef out) {
    int b = buffer_of(in), o = buffer_of(out);
    const Buffer &bb = bufs[b], &ob = bufs[o];
    if (b == o || bb.kind != Buffer::Kind::arena || ob.kind != Buffer::Kind::arena || bb.is_output) return false;
    if (bb.bytes != ob.bytes || bb.dtype != ob.dtype || !dies_at(b, k)) return false;
    // The output's buffer holds only it and its views (their reads are among its uses).
    if (std::any_of(ob.aliases.begin() + 1, ob.aliases.end(), [&](ValueRef a) { return ng.role[a.node] != Role::view; }))
      return false;
    // An in-place writer at this step must not also be overwriting it.
    const Graph& g = *ng.graph;
    for (int m : u.members[order[k]])
      for (int slot : g.node(m).op->writes_inputs)
        if (slot < static_cast<int>(g.node(m).inputs.size()) &&
            buffer_of({g.node(m).inputs[slot].node, g.node(m).inputs[slot].index}) == b)
          return false;
    parent[o] = b;
    std::vector<int> merged;
    std::set_union(uses[b].begin(), uses[b].end(), uses[o].begin(), uses[o].end(), std::back_inserter(merged));
    uses[b] = std::move(merged);
    bufs[b].is_output = bufs[b].is_output || bufs[o].is_output;
    bufs[b].aliases.insert(bufs[b].aliases.end(), bufs[o].aliases.begin(), bufs[o].aliases.end());
    return true;
  }

  void plan_inplace() {
    const Graph& g = *ng.graph;
    for (int k = 0; k < static_cast<int>(order.size()); ++k) {
      int unit = order[k];
      int gid = u.group[unit];
      if (gid < 0) {
        const Node& n = g.node(u.members[unit][0]);
        if (!n.op->flags.inplace_ok || n.inputs.empty() || n.outputs.empty()) continue;
        ValueRef in{n.inputs[0].node, n.inputs[0].index};
        // The kernel promises only that input 0 may alias output 0.
        int b = buffer_of(in);
        bool read_twice = false;
        for (size_t i = 1; i < n.inputs.size(); ++i)
          read_twice = read_twice || buffer_of({n.inputs[i].node, n.inputs[i].index}) == b;
        if (!read_twice) try_inplace(k, in, ValueRef{n.id, 0});
        continue;
      }
      // The fused kernel reads a whole tile of every input before it writes any output,
      // so any full-shape input that dies here can take an output.
      const FusedGroup& grp = u.groups[gid];
      std::vector<char> taken(grp.inputs.size(), 0);
      for (const ValueRef& out : grp.outputs)
        for (size_t i = 0; i < grp.inputs.size(); ++i) {
          const TensorType& t = g.node(grp.inputs[i].node).outputs[grp.inputs[i].index];
          if (taken[i] || t.shape != grp.shape) continue;  // try_inplace checks bytes and dtype
          if (try_inplace(k, grp.inputs[i], out)) {
            taken[i] = 1;
            break;
          }
        }
    }
  }
};

}  // namespace

MemoryPlan plan_memory(const NodeGraph& ng, const Units& u, const std::vector<int>& order, const StreamPlan& sp,
                       const CompileOptions& opt) {
  Builder b{ng, u, order, sp, opt, {}, {}, {}, {}, {}, {}};
  b.create_buffers();
  b.collect_uses();
  if (opt.plan_memory && opt.inplace) b.plan_inplace();

  // Keep the union-find roots, renumbered in order of creation.
  MemoryPlan mp;
  std::vector<int> new_id(b.bufs.size(), -1);
  std::vector<std::vector<int>> uses;
  for (size_t i = 0; i < b.bufs.size(); ++i) {
    if (b.find(static_cast<int>(i)) != static_cast<int>(i)) continue;
    new_id[i] = static_cast<int>(mp.buffers.size());
    Buffer buf = b.bufs[i];
    buf.id = new_id[i];
    mp.buffers.push_back(std::move(buf));
    uses.push_back(b.uses[i]);
  }
  auto remap = [&](int x) { return x < 0 ? -1 : new_id[b.find(x)]; };
  mp.value_buffer = b.value_buffer;
  for (auto& row : mp.value_buffer)
    for (int& x : row) x = remap(x);
  for (auto* lists : {&b.reads, &b.writes}) {
    for (auto& l : *lists) {
      for (int& x : l) x = remap(x);
      std::sort(l.begin(), l.end());
      l.erase(std::unique(l.begin(), l.end()), l.end());
    }
  }
  mp.reads = std::move(b.reads);
  mp.writes = std::move(b.writes);

  const int nu = static_cast<int>(order.size());
  const int nb = static_cast<int>(mp.buffers.size());
  for (int i = 0; i < nb; ++i) {
    Buffer& buf = mp.buffers[i];
    if (!uses[i].empty()) buf.first_use = uses[i].front(), buf.last_use = uses[i].back();
    if (buf.is_output) buf.last_use = nu;
  }

  // Arena buffers, largest first (ties: earlier first use, then id).
  std::vector<int> arena;
  for (int i = 0; i < nb; ++i)
    if (mp.buffers[i].kind == Buffer::Kind::arena) arena.push_back(i);
  std::vector<size_t> size(nb, 0);
  for (int i : arena) size[i] = round_up(mp.buffers[i].bytes, opt.alignment);
  for (int i : arena) mp.unplanned_bytes += size[i];

  if (!opt.plan_memory) {
    std::sort(arena.begin(), arena.end(),
              [&](int x, int y) { return mp.buffers[x].first_use < mp.buffers[y].first_use; });
    size_t off = 0;
    for (int i : arena) mp.buffers[i].offset = off, off += size[i];
    mp.arena_bytes = off;
    return mp;
  }

  // last[i][s]: the latest position on stream s that accesses buffer i (-1: none).
  const int ns = sp.num_streams;
  std::vector<std::vector<int>> last(nb, std::vector<int>(ns, -1));
  for (int i : arena)
    for (int k : uses[i]) last[i][sp.stream[k]] = std::max(last[i][sp.stream[k]], sp.stream_pos[k]);
  // Every access of a happens before b's first write (a requested output is read at the end).
  auto before = [&](int a, int b) {
    if (mp.buffers[a].is_output) return false;
    const std::vector<int>& clock = sp.vc[uses[b].front()];
    for (int s = 0; s < ns; ++s)
      if (last[a][s] >= clock[s]) return false;
    return true;
  };

  std::sort(arena.begin(), arena.end(), [&](int x, int y) {
    if (size[x] != size[y]) return size[x] > size[y];
    if (mp.buffers[x].first_use != mp.buffers[y].first_use) return mp.buffers[x].first_use < mp.buffers[y].first_use;
    return x < y;
  });
  std::vector<int> placed;
  size_t peak = 0;
  for (int i : arena) {
    if (size[i] == 0 || uses[i].empty()) continue;
    std::vector<std::pair<size_t, size_t>> taken;  // [offset, end) of conflicting placed buffers
    for (int j : placed)
      if (!before(i, j) && !before(j, i)) taken.emplace_back(mp.buffers[j].offset, mp.buffers[j].offset + size[j]);
    std::sort(taken.begin(), taken.end());
    size_t best = SIZE_MAX, best_gap = SIZE_MAX, end = 0;
    for (auto [lo, hi] : taken) {
      if (lo > end && lo - end >= size[i] && lo - end < best_gap) best = end, best_gap = lo - end;
      end = std::max(end, hi);
    }
    mp.buffers[i].offset = best != SIZE_MAX ? best : end;
    peak = std::max(peak, mp.buffers[i].offset + size[i]);
    placed.push_back(i);
  }
  mp.arena_bytes = peak;
  return mp;
}

}  // namespace dagrad::scheduler::detail
