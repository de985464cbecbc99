// CPU kernels of conv2d and its backward ops (ops/cpu/kernels.cpp puts them in the CPU table).
#pragma once
#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad {

// conv2d's forward pass on its fastest path for `dtype`: x and w of that dtype, bias (or
// null) and y float32 for 16-bit operands, else of that dtype.
void conv2d_forward(const ConvGeom& g, DType dtype, const void* x, const void* w, const void* bias, void* y,
                    const Epilogue* epilogue);

void conv2d_cpu(const KernelContext& ctx);                  // (x, weight[, bias]) -> y
void conv2d_backward_input_cpu(const KernelContext& ctx);   // (grad_y, weight) -> dx
void conv2d_backward_weight_cpu(const KernelContext& ctx);  // (grad_y, x) -> dw
void conv2d_max_pool2d_cpu(const KernelContext& ctx);       // (x, weight[, bias]) -> (y, argmax); conv_pool.cpp

}  // namespace dagrad
