// A backend's kernels: one per op, keyed by the op's registry id, plus the launcher of
// elementwise programs, which runs every elementwise op that has no kernel of its own
// (from its per-element form) and every fused group. Each backend fills its table from
// its own folder (ops/cpu/kernels.cpp, ops/cuda/kernels.cpp) on first use; extensions
// add theirs with mutable_kernel_table().
#pragma once
#include <vector>

#include "ops/elementwise_program.h"
#include "ops/op_def.h"

namespace dagrad {

class KernelTable {
 public:
  void set(const OpDef& op, Kernel k);
  Kernel find(const OpDef& op) const;  // null when the backend has none
  // True when the backend can run a node of `op`: a kernel, or an elementwise form and a
  // program launcher.
  bool supports(const OpDef& op) const { return find(op) || (op.elementwise && elementwise); }

  ProgramLauncher elementwise = nullptr;
  // Backends whose kernels may apply epilogues piece by piece (KernelContext::epilogue).
  RangeLauncher elementwise_range = nullptr;
  // Backends whose reductions take PlaneSums: the plane length with which `reduction`
  // would use them (0: it would not), and what the producing step runs on each finished
  // piece [begin, end) of the value (the planes wholly inside it).
  int64_t (*plane_sum_length)(const Node& reduction) = nullptr;
  void (*collect_plane_sums)(const Tensor& value, int64_t begin, int64_t end, PlaneSums& sums) = nullptr;

 private:
  std::vector<Kernel> by_op_;
};

// The table of device type `d` (empty for CUDA in a CPU-only build).
const KernelTable& kernel_table(DeviceType d);
KernelTable& mutable_kernel_table(DeviceType d);

// What each backend's folder provides.
void fill_cpu_kernels(KernelTable& t);
void fill_cuda_kernels(KernelTable& t);  // a no-op in a CPU-only build

}  // namespace dagrad
