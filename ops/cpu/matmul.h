// CPU kernel of matmul (registered in ops/defs/linalg_ops.cpp).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void matmul_cpu(const KernelContext& ctx);

}  // namespace dagrad
