// CPU kernels of gather and its scatter-add adjoint (ops/defs/index_ops.cpp), in the CPU
// table of ops/cpu/kernels.cpp.
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void gather_cpu(const KernelContext& ctx);
void gather_backward_cpu(const KernelContext& ctx);

}  // namespace dagrad
