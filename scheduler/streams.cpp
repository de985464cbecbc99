// Pass 4: streams and events. List scheduling over estimated step times: each step goes
// to the stream where it could start first (a cross-stream input costs an event), ties
// going to the stream of its latest-finishing input, then the lowest index. So a chain
// stays on one stream while independent branches (the weight- and input-gradient GEMMs
// of a layer, the optimizer updates) spread out. Every cross-stream dependency that the
// consumer's stream does not already know about (vector clocks) becomes one event
// record after the producer and one wait before the consumer; nothing else is
// synchronised. Collective ops (flagged comm_stream) all go to one extra stream, the
// communication stream, whose queue keeps them in program order (the order every rank
// must issue them in); with comm_stream off they go to stream 0.
#include <algorithm>

#include "ops/op_def.h"
#include "runtime/error.h"
#include "scheduler/passes.h"

namespace dagrad::scheduler::detail {

namespace {

// Seconds, roughly, on a modest device; only relative sizes matter.
double estimated_time(const NodeGraph& ng, const std::vector<int>& members) {
  double t = 5e-6;  // launch / queue overhead per step
  for (int m : members) {
    const Node& n = ng.graph->node(m);
    Cost c = n.op->cost_of(n);
    t += c.flops / 5e10 + (c.bytes_read + c.bytes_written) / 2e10;
  }
  return t;
}

constexpr double kEventTime = 2e-6;

}  // namespace

StreamPlan assign_streams(const NodeGraph& ng, const Units& u, const std::vector<int>& order,
                          const CompileOptions& opt) {
  if (opt.num_streams < 1)
    throw ValueError(str_cat("[scheduler] num_streams must be at least 1, got ", opt.num_streams));
  const int n_streams = opt.num_streams;
  const int nu = static_cast<int>(order.size());
  std::vector<bool> is_comm(nu, false);
  for (int k = 0; k < nu; ++k)
    for (int m : u.members[order[k]])
      if (ng.graph->node(m).op->flags.comm_stream) is_comm[k] = true;
  const bool comm_stream = opt.comm_stream && std::find(is_comm.begin(), is_comm.end(), true) != is_comm.end();
  const int total_streams = n_streams + (comm_stream ? 1 : 0);
  std::vector<int> pos_of_unit(nu);
  for (int k = 0; k < nu; ++k) pos_of_unit[order[k]] = k;
  std::vector<std::vector<int>> deps(nu);  // as compute indices, latest first
  for (int k = 0; k < nu; ++k) {
    for (int d : u.deps[order[k]]) deps[k].push_back(pos_of_unit[d]);
    std::sort(deps[k].rbegin(), deps[k].rend());
  }

  StreamPlan sp;
  sp.num_streams = total_streams;
  sp.stream.assign(nu, 0);
  std::vector<double> finish(nu, 0.0), free_at(total_streams, 0.0);
  for (int k = 0; k < nu; ++k) {
    if (is_comm[k]) {
      int s = comm_stream ? n_streams : 0;
      double ready = 0;
      for (int d : deps[k]) ready = std::max(ready, finish[d] + (sp.stream[d] != s ? kEventTime : 0.0));
      sp.stream[k] = s;
      finish[k] = std::max(ready, free_at[s]) + estimated_time(ng, u.members[order[k]]);
      free_at[s] = finish[k];
      continue;
    }
    int home = 0;
    double latest = -1;
    for (int d : deps[k])
      if (finish[d] > latest && sp.stream[d] < n_streams) latest = finish[d], home = sp.stream[d];
    int best = home;
    double best_start = 0;
    for (int i = 0; i < n_streams; ++i) {
      int s = i == 0 ? home : (i <= home ? i - 1 : i);  // home first, then by index
      double ready = 0;
      for (int d : deps[k]) ready = std::max(ready, finish[d] + (sp.stream[d] != s ? kEventTime : 0.0));
      double start = std::max(ready, free_at[s]);
      if (i == 0 || start < best_start) best = s, best_start = start;
    }
    sp.stream[k] = best;
    finish[k] = best_start + estimated_time(ng, u.members[order[k]]);
    free_at[best] = finish[k];
  }

  // Events from vector clocks: clock[s][t] = compute steps of stream t known done on s.
  std::vector<std::vector<int>> clock(total_streams, std::vector<int>(total_streams, 0));
  std::vector<std::vector<int>> after(nu);  // clock of the producer's stream just after it
  std::vector<int> event_of(nu, -1);
  sp.stream_pos.assign(nu, 0);
  sp.vc.assign(nu, {});
  sp.waits.assign(nu, {});
  for (int k = 0; k < nu; ++k) {
    int s = sp.stream[k];
    for (int d : deps[k]) {
      int t = sp.stream[d];
      if (t == s || clock[s][t] > sp.stream_pos[d]) continue;
      if (event_of[d] < 0) event_of[d] = sp.num_events++;
      sp.waits[k].push_back(event_of[d]);
      for (int i = 0; i < total_streams; ++i) clock[s][i] = std::max(clock[s][i], after[d][i]);
    }
    sp.vc[k] = clock[s];
    sp.stream_pos[k] = clock[s][s];
    ++clock[s][s];
    after[k] = clock[s];
  }
  sp.record = event_of;
  return sp;
}

}  // namespace dagrad::scheduler::detail
