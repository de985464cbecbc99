// CPU kernels of layer normalisation (ops/defs/norm_ops.cpp), in the CPU table of
// ops/cpu/kernels.cpp.
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void layer_norm_cpu(const KernelContext& ctx);
void layer_norm_backward_cpu(const KernelContext& ctx);

}  // namespace dagrad
