// bfloat16 stride-1 convolutions on AMX tiles (ops/cpu/amx.h), float32 results: the same
// per-image direct products as the vdpbf16ps kernels (ops/cpu/conv_bf16.cpp), with k
// ordered so that every tile's rows are one stride apart:
//   forward, input gradient  k = (tap, channel pair): a B tile is 16 channel-pair planes
//                            of the padded image at one tap's offset (rows a plane apart);
//   weight gradient          k = pixel pairs: an A tile is 16 channels' padded planes at
//                            one tap's offset (read at any half-word, so odd offsets need
//                            no second copy), B is dy transposed to [pixel pair, O].
//                            With few input channels (the first layer) the (channel,
//                            tap) pairs are B's columns instead and A is dy itself.
// Callers check amx::available() and applies(); results are float32 sums of exact
// products, so they match the vdpbf16ps kernels to float32 summation error.
#pragma once
#include <cstdint>

#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad::conv_amx {

bool forward_applies(const ConvGeom& g);
bool input_grad_applies(const ConvGeom& g);
bool weight_grad_applies(const ConvGeom& g);

void forward(const ConvGeom& g, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
             const Epilogue* epilogue);
void input_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* w, float* dx, const Epilogue* epilogue);
void weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw);

}  // namespace dagrad::conv_amx
