#include "scheduler/sum_before_scatter.h"

#include <algorithm>

#include "ops/builtin_ops.h"
#include "ops/op_def.h"
#include "ops/params/reduce.h"

namespace dagrad::scheduler {

namespace {

// Whether a sum over `axes` (empty: all) of a rank-`rank` tensor reduces every axis but 1.
bool reduces_all_but_channels(const AxesParams& p, int64_t rank) {
  if (p.axes.empty()) return true;
  std::vector<char> reduced(static_cast<size_t>(rank), 0);
  for (int64_t a : p.axes) reduced[static_cast<size_t>(a < 0 ? a + rank : a)] = 1;
  for (int64_t d = 0; d < rank; ++d)
    if (d != 1 && !reduced[static_cast<size_t>(d)]) return false;
  return true;
}

}  // namespace

int sum_before_scatter(Graph& g) {
  int moved = 0;
  for (size_t id = 0; id < g.num_nodes(); ++id) {
    const Node& s = g.node(static_cast<int>(id));
    if (s.op != op::sum || s.inputs.size() != 1 || s.inputs[0].index != 0) continue;
    const Node& scatter = s.inputs[0].producer();
    if (!scatter.op->flags.scatters_input0 || scatter.inputs.empty()) continue;
    const Value values = scatter.inputs[0];
    const auto rank = static_cast<int64_t>(s.inputs[0].shape().rank());
    if (rank < 2 || static_cast<int64_t>(values.shape().rank()) != rank || values.dtype() != s.inputs[0].dtype() ||
        values.dim(1) != s.inputs[0].dim(1) || !reduces_all_but_channels(s.params<AxesParams>(), rank))
      continue;
    g.set_input(static_cast<int>(id), 0, values);
    ++moved;
  }
  return moved;
}

}  // namespace dagrad::scheduler
