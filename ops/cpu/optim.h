// CPU kernels of the optimizer updates (ops/defs/optim_ops.cpp defines the ops).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void sgd_update_cpu(const KernelContext& ctx);   // (param, grad, lr[, momentum_buf]), in place
void adam_update_cpu(const KernelContext& ctx);  // (param, grad, lr, m, v, t), in place

}  // namespace dagrad
