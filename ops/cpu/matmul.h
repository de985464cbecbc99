// CPU kernel of matmul (ops/cpu/kernels.cpp puts them in the CPU table).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void matmul_cpu(const KernelContext& ctx);

}  // namespace dagrad
