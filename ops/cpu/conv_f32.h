// float32 conv2d and its backward ops on dagrad's GEMM engine (ops/cpu/conv_f32.cpp).
#pragma once
#include <cstdint>

#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad {

// y[N,O,OH,OW] = conv(x, w) + bias (bias may be null). With an epilogue, each image's
// output is passed through it as soon as it is finished (and epilogue->applied is set).
void conv2d_forward_f32(const ConvGeom& g, const float* x, const float* w, const float* bias, float* y,
                        const Epilogue* epilogue = nullptr);
// dx[N,C,H,W] from dy[N,O,OH,OW] and w; the epilogue as in the forward pass (paths
// that do not apply it leave `applied` unset).
void conv2d_input_grad_f32(const ConvGeom& g, const float* dy, const float* w, float* dx,
                           const Epilogue* epilogue = nullptr);
// dw[O,C,KH,KW] from dy and x.
void conv2d_weight_grad_f32(const ConvGeom& g, const float* dy, const float* x, float* dw);

// The same products with the activations (x, dy) as bfloat16 bits, widened exactly to
// float32: image by image where the kernel takes one image at a time (Winograd, one input
// channel, the stride-1 direct kernels), as a whole tensor otherwise. The results are
// those of the float32 calls on the widened tensors, bit for bit. (The bfloat16 products
// where vdpbf16ps or AMX do not pay: ops/cpu/gemm_bf16.h.)
void conv2d_forward_f32(const ConvGeom& g, const uint16_t* x, const float* w, const float* bias, float* y,
                        const Epilogue* epilogue = nullptr);
void conv2d_input_grad_f32(const ConvGeom& g, const uint16_t* dy, const float* w, float* dx,
                           const Epilogue* epilogue = nullptr);
void conv2d_weight_grad_f32(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw);

}  // namespace dagrad
