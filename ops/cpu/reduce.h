// CPU kernels of the reduce family (in the CPU table of ops/cpu/kernels.cpp).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void sum_cpu(const KernelContext& ctx);  // takes KernelContext::plane_sums (a bias gradient's sum)
// The kernel table's PlaneSums entries (ops/kernel_table.h).
int64_t plane_sum_length_cpu(const Node& reduction);
void collect_plane_sums_cpu(const Tensor& value, int64_t begin, int64_t end, PlaneSums& sums);
void mean_cpu(const KernelContext& ctx);
void max_cpu(const KernelContext& ctx);
void prod_cpu(const KernelContext& ctx);
void sum_to_cpu(const KernelContext& ctx);
void broadcast_to_cpu(const KernelContext& ctx);
void softmax_cpu(const KernelContext& ctx);
void log_softmax_cpu(const KernelContext& ctx);
void argmax_cpu(const KernelContext& ctx);

}  // namespace dagrad
