// CPU kernels of 2-D pooling and its backward ops (ops/cpu/kernels.cpp puts them in the CPU table).
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void max_pool2d_cpu(const KernelContext& ctx);           // (x) -> (y, argmax)
void max_pool2d_backward_cpu(const KernelContext& ctx);  // (grad_y, argmax) -> dx
void max_pool2d_gather_cpu(const KernelContext& ctx);    // (source, argmax) -> source where argmax points
void avg_pool2d_cpu(const KernelContext& ctx);           // (x) -> y
void avg_pool2d_backward_cpu(const KernelContext& ctx);  // (grad_y) -> dx

}  // namespace dagrad
