// CPU kernels of the shape family (in the CPU table of ops/cpu/kernels.cpp). They move
// bytes only, so they work for every dtype.
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void reshape_cpu(const KernelContext& ctx);  // a copy, for executors that do not alias views
void transpose_cpu(const KernelContext& ctx);
void permute_cpu(const KernelContext& ctx);
void concat_cpu(const KernelContext& ctx);
void slice_cpu(const KernelContext& ctx);

}  // namespace dagrad
