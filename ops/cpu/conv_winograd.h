// float32 3x3 stride-1 convolutions by Winograd F(4x4, 3x3) (ops/cpu/conv_winograd*.cpp):
// the forward pass, the input gradient and the weight gradient, each 4x4 output (or dy)
// tile with a 6x6 input tile in 36 multiplies instead of 144. Results differ from the direct kernels' by rounding only (the transforms
// scale by up to 8 and 1/24; see the tests and bench/NOTES.md for the bound).
#pragma once
#include <cstdint>

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
void conv2d_input_grad(const ConvGeom& g, const float* dy, const float* w, float* dx, const Epilogue* epilogue);
void conv2d_weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw);
// The gradients with bfloat16 (bits) dy and x, widened exactly image by image, as forward_f4's
// bfloat16 overload does (Intel CPUs without AMX: ops/cpu/gemm_bf16.h).
void conv2d_input_grad(const ConvGeom& g, const uint16_t* dy, const float* w, float* dx, const Epilogue* epilogue);
void conv2d_weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw);

// The forward pass by F(4x4, 3x3) (ops/cpu/conv_winograd_f4.cpp), w as [O, C, 3, 3]; x
// float32, or bfloat16 (bits) widened exactly image by image: in float32, F(4x4) beats the
// bfloat16 direct kernel on conv2's shapes by 1.15-1.3x (bench/NOTES.md).
void forward_f4(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                const Epilogue* epilogue);
void forward_f4(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
                const Epilogue* epilogue);

}  // namespace dagrad::winograd
