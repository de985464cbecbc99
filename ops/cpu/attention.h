// CPU kernels of fused scaled-dot-product attention (ops/defs/attention_ops.cpp), in the
// CPU table of ops/cpu/kernels.cpp.
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void attention_cpu(const KernelContext& ctx);
void attention_backward_cpu(const KernelContext& ctx);

}  // namespace dagrad
