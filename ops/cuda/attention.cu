// Fused scaled-dot-product attention on CUDA, over any of the op's layouts (rows found
// through AttentionGeom). One thread per query row runs the online
// softmax over its visible keys (reading k and v through the cache) with its output row
// in registers; the backward pass has one thread per key row for dk and dv and one per
// query row for dq, each recomputing the probabilities from the saved log-sum-exp. No
// [L,S] tensor and no atomics: every sum runs in key or query order, deterministic.
#include "ops/cuda/device_utils.cuh"
#include "ops/cuda/transformer_kernels.h"
#include "ops/elementwise_math.h"

namespace dagrad::cuda {

namespace {

constexpr int kAttentionBlock = 128;
constexpr int kMaxDim = static_cast<int>(kMaxAttentionHeadDim);

template <class T>
__device__ __forceinline__ T neg_inf() {
  return static_cast<T>(-__longlong_as_double(0x7ff0000000000000ll));
}

// scale·q_i·k_j + mask for problem b.
template <class T>
__device__ __forceinline__ T score(const AttentionGeom& g, const T* qi, const T* kj, const T* mask, int64_t b,
                                   int64_t i, int64_t j) {
  T s = 0;
  for (int64_t c = 0; c < g.d; ++c) s += qi[c] * kj[c];
  s *= static_cast<T>(g.scale);
  if (mask) s += mask[g.mask_offset(b, i, j)];
  return s;
}

template <class T>
__device__ __forceinline__ T dot(const T* a, const T* b, int64_t n) {
  T s = 0;
  for (int64_t c = 0; c < n; ++c) s += a[c] * b[c];
  return s;
}

template <class T>
__global__ void attention_kernel(AttentionGeom g, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse) {
  DAGRAD_GRID_STRIDE(t, g.batch * g.l) {
    const int64_t b = t / g.l, i = t % g.l;
    const T* qi = q + g.q_at(b, i);
    T acc[kMaxDim];
    for (int64_t c = 0; c < g.dv; ++c) acc[c] = 0;
    T m = neg_inf<T>(), sum = 0;
    const int64_t keys = g.key_end(i);
    for (int64_t j = 0; j < keys; ++j) {
      const T s = score(g, qi, k + g.k_at(b, j), mask, b, i, j);
      if (s == neg_inf<T>()) continue;  // a masked key adds nothing
      if (s > m) {
        const T correction = math::exp(m - s);
        sum *= correction;
        for (int64_t c = 0; c < g.dv; ++c) acc[c] *= correction;
        m = s;
      }
      const T p = math::exp(s - m);
      sum += p;
      const T* vj = v + g.v_at(b, j);
      for (int64_t c = 0; c < g.dv; ++c) acc[c] += p * vj[c];
    }
    T* o = out + g.o_at(b, i);
    for (int64_t c = 0; c < g.dv; ++c) o[c] = sum == T(0) ? quiet_nan<T>() : acc[c] / sum;
    lse[t] = m + math::log(sum);
  }
}

// Δ_i = rowsum(dO_i ⊙ O_i) - (cotangent of lse)_i, one row per thread.
template <class T>
__global__ void attention_delta_kernel(AttentionGeom g, const T* out, const T* dout, const T* lse_grad, T* delta) {
  DAGRAD_GRID_STRIDE(t, g.batch * g.l) {
    const int64_t b = t / g.l, i = t % g.l;
    const T d = dot(dout + g.o_at(b, i), out + g.o_at(b, i), g.dv);
    delta[t] = lse_grad ? d - lse_grad[t] : d;
  }
}

// dk_j = scale·Σ_i dS_ij·q_i, dv_j = Σ_i P_ij·dO_i over the queries that see key j.
template <class T>
__global__ void attention_dkdv_kernel(AttentionGeom g, const T* q, const T* k, const T* v, const T* mask, const T* lse,
                                      const T* delta, const T* dout, T* dk, T* dv) {
  DAGRAD_GRID_STRIDE(t, g.batch * g.s) {
    const int64_t b = t / g.s, j = t % g.s;
    const T* kj = k + g.k_at(b, j);
    const T* vj = v + g.v_at(b, j);
    T dk_acc[kMaxDim], dv_acc[kMaxDim];
    for (int64_t c = 0; c < g.d; ++c) dk_acc[c] = 0;
    for (int64_t c = 0; c < g.dv; ++c) dv_acc[c] = 0;
    for (int64_t i = g.causal ? j : 0; i < g.l; ++i) {
      if (j >= g.key_end(i)) continue;
      const int64_t row = b * g.l + i;
      const T* qi = q + g.q_at(b, i);
      const T* doi = dout + g.o_at(b, i);
      const T p = math::exp(score(g, qi, kj, mask, b, i, j) - lse[row]);
      const T ds = static_cast<T>(g.scale) * p * (dot(doi, vj, g.dv) - delta[row]);
      for (int64_t c = 0; c < g.dv; ++c) dv_acc[c] += p * doi[c];
      for (int64_t c = 0; c < g.d; ++c) dk_acc[c] += ds * qi[c];
    }
    for (int64_t c = 0; c < g.d; ++c) dk[g.k_at(b, j) + c] = dk_acc[c];
    for (int64_t c = 0; c < g.dv; ++c) dv[g.v_at(b, j) + c] = dv_acc[c];
  }
}

// dq_i = scale·Σ_j dS_ij·k_j over the keys query i sees.
template <class T>
__global__ void attention_dq_kernel(AttentionGeom g, const T* q, const T* k, const T* v, const T* mask, const T* lse,
                                    const T* delta, const T* dout, T* dq) {
  DAGRAD_GRID_STRIDE(t, g.batch * g.l) {
    const int64_t b = t / g.l, i = t % g.l;
    const T* qi = q + g.q_at(b, i);
    const T* doi = dout + g.o_at(b, i);
    T acc[kMaxDim];
    for (int64_t c = 0; c < g.d; ++c) acc[c] = 0;
    const int64_t keys = g.key_end(i);
    for (int64_t j = 0; j < keys; ++j) {
      const T* kj = k + g.k_at(b, j);
      const T p = math::exp(score(g, qi, kj, mask, b, i, j) - lse[t]);
      const T ds = static_cast<T>(g.scale) * p * (dot(doi, v + g.v_at(b, j), g.dv) - delta[t]);
      for (int64_t c = 0; c < g.d; ++c) acc[c] += ds * kj[c];
    }
    for (int64_t c = 0; c < g.d; ++c) dq[g.q_at(b, i) + c] = acc[c];
  }
}

unsigned blocks_for(int64_t n) {
  return static_cast<unsigned>(std::clamp<int64_t>((n + kAttentionBlock - 1) / kAttentionBlock, 1, kMaxBlocks));
}

}  // namespace

template <class T>
void launch_attention(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, T* out, T* lse,
                      cudaStream_t stream) {
  if (g.batch * g.l == 0) return;
  attention_kernel<<<blocks_for(g.batch * g.l), kAttentionBlock, 0, stream>>>(g, q, k, v, mask, out, lse);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_attention_backward(const AttentionGeom& g, const T* q, const T* k, const T* v, const T* mask, const T* out,
                               const T* lse, const T* lse_grad, const T* dout, T* dq, T* dk, T* dv, T* delta,
                               cudaStream_t stream) {
  if (g.batch * g.l > 0) {
    attention_delta_kernel<<<blocks_for(g.batch * g.l), kAttentionBlock, 0, stream>>>(g, out, dout, lse_grad, delta);
    DAGRAD_CUDA_LAUNCH_CHECK();
  }
  if (g.batch * g.s > 0) {
    attention_dkdv_kernel<<<blocks_for(g.batch * g.s), kAttentionBlock, 0, stream>>>(g, q, k, v, mask, lse, delta,
                                                                                      dout, dk, dv);
    DAGRAD_CUDA_LAUNCH_CHECK();
  }
  if (g.batch * g.l > 0) {
    attention_dq_kernel<<<blocks_for(g.batch * g.l), kAttentionBlock, 0, stream>>>(g, q, k, v, mask, lse, delta, dout,
                                                                                    dq);
    DAGRAD_CUDA_LAUNCH_CHECK();
  }
}

#define DAGRAD_INSTANTIATE(T)                                                                                   \
  template void launch_attention<T>(const AttentionGeom&, const T*, const T*, const T*, const T*, T*, T*,       \
                                    cudaStream_t);                                                              \
  template void launch_attention_backward<T>(const AttentionGeom&, const T*, const T*, const T*, const T*,      \
                                             const T*, const T*, const T*, const T*, T*, T*, T*, T*, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE

}  // namespace dagrad::cuda
