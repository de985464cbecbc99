// float32 3x3 stride-1 convolutions by Winograd's F(2x2, 3x3) (ops/cpu/conv_winograd.cpp):
// each 2x2 output tile is A^T [(G g G^T) ⊙ (B^T d B)] A over a 4x4 input tile d, so
// 16 multiplies replace 36 and the three passes of a 3x3 convolution take 2.25 times
// fewer multiply-adds than the direct kernels. Results differ from the direct ones by
// rounding only (the transforms add and halve; see the tests for the bound).
#pragma once
#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad::winograd {

// Whether these kernels take the convolution: 3x3, stride 1, no dilation, padding at most
// 2, enough channels on both sides that the transforms pay, and a CPU with AVX-512.
bool applies(const ConvGeom& g);

// The same contracts as conv2d_forward_f32, conv2d_input_grad_f32 and conv2d_weight_grad_f32
// (ops/cpu/conv_f32.h), for geometries that apply.
void conv2d_forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                    const Epilogue* epilogue);
void conv2d_input_grad(const ConvGeom& g, const float* dy, const float* w, float* dx);
void conv2d_weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw);

}  // namespace dagrad::winograd
