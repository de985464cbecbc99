// CPU kernels of the reduce family (in the CPU table of ops/cpu/kernels.cpp).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void sum_cpu(const KernelContext& ctx);
void mean_cpu(const KernelContext& ctx);
void max_cpu(const KernelContext& ctx);
void prod_cpu(const KernelContext& ctx);
void sum_to_cpu(const KernelContext& ctx);
void broadcast_to_cpu(const KernelContext& ctx);
void softmax_cpu(const KernelContext& ctx);
void log_softmax_cpu(const KernelContext& ctx);
void argmax_cpu(const KernelContext& ctx);

}  // namespace dagrad
