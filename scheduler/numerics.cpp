#include "scheduler/numerics.h"

#include <cmath>

#include "runtime/convert.h"

namespace dagrad::scheduler {

int64_t first_non_finite(const Tensor& t) {
  if (!t.defined() || !is_float(t.dtype())) return -1;
  Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  return dispatch_float(host.dtype(), "check-numerics", [&]<class T>() -> int64_t {
    const T* p = host.data<T>();
    for (int64_t i = 0; i < host.numel(); ++i)
      if (!std::isfinite(convert<double>(p[i]))) return i;
    return -1;
  });
}

void check_step_outputs(const Graph& g, std::span<const int> nodes, std::span<const Tensor> outputs, uint64_t step) {
  for (size_t o = 0; o < outputs.size(); ++o) {
    int64_t i = first_non_finite(outputs[o]);
    if (i < 0) continue;
    const Tensor host = outputs[o].to(Device::cpu());
    const double v = dispatch_float(host.dtype(), "check-numerics", [&]<class T>() { return convert<double>(host.data<T>()[i]); });
    const Node& n = g.node(nodes.front());
    std::string what = nodes.size() == 1 ? str_cat("node '", n.name, "' (", n.op_name(), ", built at ", n.loc.to_string(), ")")
                                         : str_cat("fused group starting at node '", n.name, "' (", n.op_name(), ", built at ",
                                                   n.loc.to_string(), ", ", nodes.size(), " ops)");
    throw NumericsError(str_cat("[check-numerics] ", what, " produced ", std::isnan(v) ? "NaN" : "Inf",
                                " at element ", i, " of output ", o, " ", outputs[o].shape().to_string(), " in run step ",
                                step));
  }
}

}  // namespace dagrad::scheduler
