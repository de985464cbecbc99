#include "scheduler/plan_check.h"

#include <algorithm>
#include <set>

#include "ops/op_def.h"
#include "runtime/error.h"

namespace dagrad::scheduler {

HappensBefore::HappensBefore(const ExecutionPlan& plan) {
  const int ns = plan.num_streams;
  const size_t n = plan.steps.size();
  stream_.assign(n, -1);
  pos_.assign(n, -1);
  vc_.assign(n, {});
  std::vector<std::vector<int>> clock(ns, std::vector<int>(ns, 0));
  std::vector<std::vector<int>> recorded(plan.events.size());
  for (const Step& s : plan.steps) {
    if (s.stream < 0 || s.stream >= ns) {
      problems_.push_back(str_cat("step ", s.index, " is on stream ", s.stream, " of ", ns));
      continue;
    }
    std::vector<int>& c = clock[s.stream];
    switch (s.kind) {
      case StepKind::record:
        recorded.at(s.event) = c;
        break;
      case StepKind::wait:
        if (recorded.at(s.event).empty()) {
          problems_.push_back(str_cat("step ", s.index, " waits for event ", s.event, " before it is recorded"));
          break;
        }
        for (int i = 0; i < ns; ++i) c[i] = std::max(c[i], recorded[s.event][i]);
        break;
      default:
        stream_[s.index] = s.stream;
        pos_[s.index] = c[s.stream];
        vc_[s.index] = c;
        ++c[s.stream];
    }
  }
}

bool HappensBefore::operator()(int a, int b) const {
  if (a == b || stream_[a] < 0 || stream_[b] < 0) return false;
  return pos_[a] < vc_[b][stream_[a]];
}

namespace {

struct Access {
  int step;
  bool write;
};

}  // namespace

std::vector<std::string> check_plan(const ExecutionPlan& plan) {
  const Graph& g = *plan.graph;
  HappensBefore hb(plan);
  std::vector<std::string> bad = hb.problems();
  const int n_nodes = static_cast<int>(g.num_nodes());

  // Compute steps that a node's value depends on: its own step, or (bound/view) those of
  // its dependencies.
  std::vector<std::set<int>> source_steps(n_nodes);
  std::vector<char> done(n_nodes, 0);
  auto producers = [&](auto& self, int id) -> const std::set<int>& {
    if (done[id]) return source_steps[id];
    done[id] = 1;
    if (plan.node_step[id] >= 0) {
      source_steps[id] = {plan.node_step[id]};
    } else {
      for (int d : g.dependencies(id)) {
        const std::set<int>& s = self(self, d);
        source_steps[id].insert(s.begin(), s.end());
      }
    }
    return source_steps[id];
  };

  std::vector<std::vector<Access>> accesses(plan.buffers.size());
  for (const Step& s : plan.steps) {
    if (!s.is_compute()) continue;
    std::set<int> members(s.nodes.begin(), s.nodes.end());
    std::set<int> reads, writes;
    for (int m : s.nodes) {
      const Node& n = g.node(m);
      for (int d : g.dependencies(m))
        for (int p : producers(producers, d))
          if (p != s.index && !hb(p, s.index))
            bad.push_back(
                str_cat("step ", s.index, " (", n.name, ") may run before step ", p, ", which it depends on"));
      for (const Value& v : n.inputs) {
        int b = plan.buffer_of(v);
        if (b >= 0) reads.insert(b);
        if (b < 0 && !members.count(v.node))
          bad.push_back(str_cat("step ", s.index, " reads ", g.node(v.node).name, ", which has no buffer"));
      }
      for (size_t i = 0; i < n.outputs.size(); ++i)
        if (int b = plan.buffer_of(ValueRef{m, static_cast<int>(i)}); b >= 0) writes.insert(b);
      for (int slot : n.op->writes_inputs)
        if (slot < static_cast<int>(n.inputs.size()))
          if (int b = plan.buffer_of(n.inputs[slot]); b >= 0) writes.insert(b);
    }
    for (int b : reads)
      if (!writes.count(b)) accesses[b].push_back({s.index, false});
    for (int b : writes) accesses[b].push_back({s.index, true});
  }

  // Races on one buffer.
  for (size_t b = 0; b < accesses.size(); ++b) {
    const auto& acc = accesses[b];
    for (size_t i = 0; i < acc.size(); ++i)
      for (size_t j = i + 1; j < acc.size(); ++j)
        if ((acc[i].write || acc[j].write) && !hb(acc[i].step, acc[j].step) && !hb(acc[j].step, acc[i].step))
          bad.push_back(str_cat("buffer ", b, " (", plan.buffers[b].name, "): steps ", acc[i].step, " and ",
                                acc[j].step, " race"));
  }

  // Arena: bounds, and buffers sharing bytes have disjoint lives.
  auto first_write = [&](size_t b) {
    int first = -1;
    for (const Access& a : accesses[b])
      if (a.write && (first < 0 || a.step < first)) first = a.step;
    return first;
  };
  // Every access of a happens before b's first write; a requested output lives to the end.
  auto before = [&](size_t a, size_t b) {
    if (plan.buffers[a].is_output) return false;
    int w = first_write(b);
    if (w < 0) return true;
    return std::all_of(accesses[a].begin(), accesses[a].end(), [&](const Access& x) { return hb(x.step, w); });
  };
  for (size_t a = 0; a < plan.buffers.size(); ++a) {
    const Buffer& A = plan.buffers[a];
    if (A.kind != Buffer::Kind::arena || A.bytes == 0) continue;
    if (A.offset + A.bytes > plan.arena_bytes)
      bad.push_back(str_cat("buffer ", a, " (", A.name, ") ends at ", A.offset + A.bytes, " past the arena's ",
                            plan.arena_bytes, " bytes"));
    for (size_t b = a + 1; b < plan.buffers.size(); ++b) {
      const Buffer& B = plan.buffers[b];
      if (B.kind != Buffer::Kind::arena || B.bytes == 0) continue;
      bool overlap = A.offset < B.offset + B.bytes && B.offset < A.offset + A.bytes;
      if (overlap && !before(a, b) && !before(b, a))
        bad.push_back(
            str_cat("buffers ", a, " (", A.name, ") and ", b, " (", B.name, ") share arena bytes while both live"));
    }
  }
  return bad;
}

}  // namespace dagrad::scheduler
