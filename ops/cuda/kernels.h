// The CUDA backend's kernel launchers: plain pointers, sizes and the ops' own geometry
// structs (ops/params/*.h, shared with the CPU), no Tensor or Node, so that nvcc (C++17) compiles the .cu files that define them while
// the glue in ops/cuda/*_ops.cpp (C++20) turns a KernelContext into these calls. Every
// launcher enqueues asynchronous work on `stream` and returns; float and double are
// instantiated (plus the integer types where noted).
#pragma once
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "ops/params/conv.h"
#include "ops/params/nn.h"
#include "runtime/float16.h"

namespace dagrad::cuda {

// Tensors of rank up to kMaxDims after merging (more throws in the glue).
constexpr int kMaxDims = 8;

// A strided view: element (i_0, ..., i_{r-1}) of a row-major index space of `size` is at
// offset Σ i_d·stride[d] (in elements) of its buffer.
struct StridedView {
  int rank = 0;
  int64_t size[kMaxDims] = {};
  int64_t stride[kMaxDims] = {};
};

// ---- copies (copy.cu) ----

// dst[i] (contiguous, index space v.size) = src[offset of i in v]; elements of
// elem_size bytes (1, 2, 4 or 8).
void launch_strided_copy(const void* src, const StridedView& v, void* dst, int64_t n, int elem_size,
                         cudaStream_t stream);

// ---- dtype conversion (cast.cu) ----

// dst[i] = convert<D>(src[i]) (runtime/convert.h); S and D are any dtypes' C++ types.
template <class S, class D>
void launch_cast(const S* src, D* dst, int64_t n, cudaStream_t stream);

// ---- fills and transforms through Thrust (thrust_ops.cu) ----

// p[0, n) = value; T = the C++ type of any dtype.
template <class T>
void launch_fill(T* p, int64_t n, T value, cudaStream_t stream);
// SgdStep / AdamStep of ops/optim_math.h per element; lr (and Adam's step count t) are
// float32 scalars in device memory. Adam increments t once, after its update.
template <class T>
void launch_sgd(T* p, const T* g, T* buf, const float* lr, double momentum, double weight_decay, bool nesterov,
                int64_t n, cudaStream_t stream);
template <class T>
void launch_adam(T* p, const T* g, T* m, T* v, const float* lr, float* t, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, int64_t n, cudaStream_t stream);

// ---- reductions and softmax (reduce.cu) ----

// The input seen as kept dims (the output's, row-major) and reduced dims, each with the
// input's strides. Every output folds its `nred` inputs in a fixed order.
struct ReduceGeom {
  StridedView kept;     // index space: the outputs
  StridedView reduced;  // index space: the reduced elements of one output
  int64_t outs = 1, nred = 1;
  bool inner_reduced = false;  // the input's unit-stride dim is reduced (contiguous runs)
};
enum class ReduceOp { sum, max, prod };
// Work pieces per output: > 1 splits long reductions into partials combined in order.
int64_t reduce_chunks(const ReduceGeom& g);
// Scratch bytes launch_reduce needs (0 when no partials).
size_t reduce_workspace_bytes(const ReduceGeom& g);
// out[o] = scale · Σ (sum, accumulated in double) or max (NaN wins) over output o's inputs.
template <class T>
void launch_reduce(ReduceOp op, const T* x, T* out, const ReduceGeom& g, double scale, void* workspace,
                   cudaStream_t stream);
// Along the middle axis of x viewed as [outer, n, inner].
template <class T>
void launch_softmax(const T* x, T* y, int64_t outer, int64_t n, int64_t inner, bool log, cudaStream_t stream);
template <class T>
void launch_argmax(const T* x, int64_t* out, int64_t outer, int64_t n, int64_t inner, cudaStream_t stream);

// ---- convolution and pooling (conv_pool.cu), NCHW ----

// cols[img][(c,i,j)][(oh,ow)] = x[img][c][oh·sh - ph + i·dh][ow·sw - pw + j·dw] (0 outside)
// for `images` consecutive images starting at x. T = float, double, or uint16_t for the
// bit patterns of 16-bit floats.
template <class T>
void launch_im2col(const ConvGeom& g, const T* x, T* cols, int64_t images, cudaStream_t stream);
// The adjoint: dx[img] = Σ of the column entries read from each pixel (a gather, in a
// fixed order; dx is overwritten).
template <class T>
void launch_col2im(const ConvGeom& g, const T* cols, T* dx, int64_t images, cudaStream_t stream);
// y[img][o][p] = bias[o] for `images` images of O·P values.
template <class T>
void launch_fill_rows(const T* bias, T* y, int64_t images, int64_t o, int64_t pixels, cudaStream_t stream);
// out[i] = (accumulate ? out[i] : 0) + Σ_b parts[b·size + i], b ascending, in double.
template <class T>
void launch_sum_parts(const T* parts, int64_t count, int64_t size, T* out, bool accumulate, cudaStream_t stream);

// y[o] = the maximum of x over window o, idx[o] its window position (PoolIndex): the
// first maximum in row-major window order, or a NaN, as on the CPU.
template <class T>
void launch_max_pool(const PoolGeom& g, const T* x, T* y, PoolIndex* idx, cudaStream_t stream);
// y[o] = source where idx[o] points in window o.
template <class T>
void launch_max_pool_gather(const PoolGeom& g, const T* source, const PoolIndex* idx, T* y, cudaStream_t stream);
// dx[i] = Σ dy[o] over the windows o whose idx points at i (a gather: no atomics).
template <class T>
void launch_max_pool_backward(const PoolGeom& g, const T* dy, const PoolIndex* idx, T* dx, cudaStream_t stream);
template <class T>
void launch_avg_pool(const PoolGeom& g, const T* x, T* y, cudaStream_t stream);
template <class T>
void launch_avg_pool_backward(const PoolGeom& g, const T* dy, T* dx, cudaStream_t stream);

// ---- nn (nn.cu): scores [N,C], int64 targets [N]; an out-of-range target gives NaN ----

template <class T>
void launch_nll_loss(const T* log_probs, const int64_t* target, T* out, int64_t n, int64_t c, cudaStream_t stream);
// grad: a device scalar.
template <class T>
void launch_nll_loss_backward(const T* grad, const int64_t* target, T* out, int64_t n, int64_t c,
                              cudaStream_t stream);
template <class T>
void launch_softmax_xent(const T* logits, const int64_t* target, T* out, int64_t n, int64_t c, cudaStream_t stream);
template <class T>
void launch_softmax_xent_backward(const T* grad, const T* logits, const int64_t* target, T* out, int64_t n, int64_t c,
                                  cudaStream_t stream);
template <class T>
void launch_accuracy(const T* logits, const int64_t* target, float* out, int64_t n, int64_t c, cudaStream_t stream);
// counts [C,C] (zeroed first) of (target, predicted) pairs; pairs outside [0, C) are not counted.
// out[(o·depth + k)·inner + i] = (index[o·inner + i] (+depth if negative and wrapping) == k).
template <class I, class T>
void launch_one_hot(const I* index, T* out, int64_t outer, int64_t depth, int64_t inner, bool negative_wraps,
                    cudaStream_t stream);
void launch_confusion_matrix(const int64_t* predicted, const int64_t* target, int64_t* counts, int64_t n, int64_t c,
                             cudaStream_t stream);
// y = x·scale where kept, else x·0; keep rule and bits of ops/nn_math.h (x may be y),
// element i drawing index offset + i. The run step is `step`, or *device_step when that
// is not null (CUDA Graph replay).
template <class T>
void launch_dropout(const T* x, T* y, int64_t n, uint64_t offset, uint64_t seed, uint64_t step,
                    const uint64_t* device_step, uint32_t threshold, T scale, cudaStream_t stream);

// x viewed as [N, C, S] (ChannelGeom, ops/params/nn.h).
template <class T>
void launch_batch_norm(const ChannelGeom& g, const T* x, const T* gamma, const T* beta, T* running_mean, T* running_var,
                       T* y, T* save_mean, T* save_invstd, bool training, double momentum, double eps,
                       cudaStream_t stream);
template <class T>
void launch_batch_norm_backward(const ChannelGeom& g, const T* dy, const T* x, const T* gamma, const T* save_mean,
                                const T* save_invstd, T* dx, T* dgamma, T* dbeta, cudaStream_t stream);

}  // namespace dagrad::cuda
