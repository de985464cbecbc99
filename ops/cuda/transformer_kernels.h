// Launchers of the CUDA kernels of the transformer ops: layer norm (layer_norm.cu),
// gather (gather.cu) and fused attention (attention.cu). As in ops/cuda/kernels.h: plain
// pointers and the ops' geometry structs (ops/params/*.h), asynchronous on `stream`,
// float and double instantiated (gather also int32, int64, uint8).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

#include "ops/params/attention.h"
#include "ops/params/index.h"
#include "ops/params/norm.h"

namespace dagrad::cuda {

// ---- layer norm over x viewed as [rows, cols]; gamma and beta may be null ----

template <class T>
void launch_layer_norm(const RowGeom& g, const T* x, const T* gamma, const T* beta, T* y, T* save_mean,
                       T* save_invstd, double eps, cudaStream_t stream);
// dgamma and dbeta are written when gamma is not null.
template <class T>
void launch_layer_norm_backward(const RowGeom& g, const T* dy, const T* x, const T* save_mean, const T* save_invstd,
                                const T* gamma, T* dx, T* dgamma, T* dbeta, cudaStream_t stream);

// ---- gather over data viewed as [outer, n, inner]; out is [outer, count, inner] ----

// An index outside [-n, n) cannot throw from a kernel: its row is NaN (0 for integers).
template <class T>
void launch_gather(const GatherGeom& g, const T* data, const int64_t* indices, T* out, cudaStream_t stream);
// out (data's shape) = Σ over the indices, in index order, of the grad rows they pick.
template <class T>
void launch_gather_backward(const GatherGeom& g, const T* grad, const int64_t* indices, T* out, cudaStream_t stream);

// ---- fused attention (AttentionGeom); mask may be null ----

// The most head dims (d, dv) the kernels take: their accumulators live in registers.
constexpr int64_t kMaxAttentionHeadDim = 256;

template <class T>
void launch_attention(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse,
                      cudaStream_t stream);
// out and dout as out's layout; lse_grad (the cotangent of lse) may be null; delta is
// scratch of batch·l values.
template <class T>
void launch_attention_backward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, const T* out,
                               const T* lse, const T* lse_grad, const T* dout, T* dq, T* dk, T* dv, T* delta,
                               cudaStream_t stream);

}  // namespace dagrad::cuda
