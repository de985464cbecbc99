// CPU kernels of conv2d and its backward ops (ops/cpu/kernels.cpp puts them in the CPU table).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void conv2d_cpu(const KernelContext& ctx);                  // (x, weight[, bias]) -> y
void conv2d_backward_input_cpu(const KernelContext& ctx);   // (grad_y, weight) -> dx
void conv2d_backward_weight_cpu(const KernelContext& ctx);  // (grad_y, x) -> dw

}  // namespace dagrad
