// CPU kernels of 2-D pooling and its backward ops (ops/cpu/kernels.cpp puts them in the CPU table).
#pragma once
#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad {

// max_pool2d on raw planes (x: g.n * g.c planes of g.h rows, rows `row` elements apart and
// planes `plane` apart), the epilogue run over y's elements.
void max_pool2d_planes(const PoolGeom& g, const float* x, int64_t row, int64_t plane, float* y, PoolIndex* idx,
                       const Epilogue* epilogue);
void max_pool2d_planes(const PoolGeom& g, const double* x, int64_t row, int64_t plane, double* y, PoolIndex* idx,
                       const Epilogue* epilogue);

void max_pool2d_cpu(const KernelContext& ctx);           // (x) -> (y, argmax)
void max_pool2d_backward_cpu(const KernelContext& ctx);  // (grad_y, argmax) -> dx
void max_pool2d_gather_cpu(const KernelContext& ctx);    // (source, argmax) -> source where argmax points
void avg_pool2d_cpu(const KernelContext& ctx);           // (x) -> y
void avg_pool2d_backward_cpu(const KernelContext& ctx);  // (grad_y) -> dx

}  // namespace dagrad
