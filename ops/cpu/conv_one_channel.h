// float32 forward of a stride-1 convolution with one input channel (a network's first layer
// on greyscale images, ops/cpu/conv_one_channel.cpp). Its K = KH*KW (9 for MNIST's conv1) is
// too short for the GEMM micro-kernel, which then spends most of its time loading and
// storing its tile: here each row of 16 outputs keeps the KH*KW shifted input vectors in
// registers, and every output channel is KH*KW multiply-adds with broadcast weights.
#pragma once
#include <cstdint>

#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad::conv_one_channel {

// One input channel, stride 1, a 3x3 or 5x5 kernel (any padding and dilation), and a CPU
// with AVX-512.
bool applies(const ConvGeom& g);

// conv2d_forward_f32's and conv2d_weight_grad_f32's contracts (ops/cpu/conv_f32.h) for
// geometries that apply.
void forward(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y, const Epilogue* epilogue);
// The forward pass with bfloat16 (bits) x, widened exactly image by image.
void forward(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
             const Epilogue* epilogue);
void weight_grad(const ConvGeom& g, const float* dy, const float* x, float* dw);
// The weight gradient with bfloat16 (bits) dy and x, widened exactly image by image.
void weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw);

}  // namespace dagrad::conv_one_channel
