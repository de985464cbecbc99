// Fused scaled-dot-product attention on the CPU, FlashAttention's scheme: a block of
// query rows meets the keys a block at a time; the scores of one (query block, key
// block) tile live in a per-thread buffer, the softmax is kept online (running row
// maximum and sum, the output rescaled as the maximum grows), and only the output and
// each row's log-sum-exp are written. Memory beyond the inputs and outputs is
// O(block²), whatever the sequence length.
//
// The backward pass recomputes each tile's probabilities from the log-sum-exp. One task
// per (batch, head) walks every tile in a fixed order, accumulating dq, dk and dv, so
// the result does not depend on the thread count.
//
// Inner loops run along a contiguous dimension (keys of a transposed tile, or the head
// dim), so the compiler vectorises them.
#include "ops/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/params/attention.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kQueryBlock = 32;
constexpr int64_t kKeyBlock = 64;

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

AttentionGeom geom_of(const KernelContext& ctx, size_t mask_slot) {
  const Shape* mask = ctx.inputs.size() > mask_slot ? &ctx.inputs[mask_slot].shape() : nullptr;
  return attention_geom(ctx.inputs[0].shape(), ctx.inputs[1].shape(), ctx.inputs[2].shape(), mask,
                        ctx.params<AttentionParams>());
}

// xt[c·kKeyBlock + j] = x[(j0 + j)·dim + c] for the `rows` rows of a key block.
template <class T>
void transpose_block(const T* x, int64_t j0, int64_t rows, int64_t dim, T* xt) {
  for (int64_t j = 0; j < rows; ++j) {
    const T* xr = x + (j0 + j) * dim;
    for (int64_t c = 0; c < dim; ++c) xt[c * kKeyBlock + j] = xr[c];
  }
}

// The scores of query rows [i0, i0 + nq) against keys [j0, j0 + nk) of problem b:
// s[r·kKeyBlock + j] = scale·q_i·k_j + mask, -inf where causality hides the key.
template <class T>
struct ScoreTile {
  const AttentionGeom& g;
  const T* q;     // problem b's [L, d]
  const T* mask;  // null: none
  int64_t b;

  void compute(const T* kt, int64_t i0, int64_t nq, int64_t j0, int64_t nk, T* s) const {
    const T scale = static_cast<T>(g.scale);
    for (int64_t r = 0; r < nq; ++r) {
      const int64_t i = i0 + r;
      T* sr = s + r * kKeyBlock;
      std::fill(sr, sr + nk, T(0));
      const T* qi = q + i * g.d;
      for (int64_t c = 0; c < g.d; ++c) {
        const T qc = qi[c];
        const T* kc = kt + c * kKeyBlock;
        for (int64_t j = 0; j < nk; ++j) sr[j] += qc * kc[j];
      }
      for (int64_t j = 0; j < nk; ++j) sr[j] *= scale;
      if (mask)
        for (int64_t j = 0; j < nk; ++j) sr[j] += mask[g.mask_offset(b, i, j0 + j)];
      const int64_t end = g.key_end(i) - j0;
      for (int64_t j = std::max<int64_t>(end, 0); j < nk; ++j) sr[j] = kNegInf<T>;
    }
  }
};

template <class T>
void attention_forward(const KernelContext& ctx) {
  const AttentionGeom g = geom_of(ctx, 3);
  const T* q = ctx.inputs[0].data<T>();
  const T* k = ctx.inputs[1].data<T>();
  const T* v = ctx.inputs[2].data<T>();
  const T* mask = g.has_mask ? ctx.inputs[3].data<T>() : nullptr;
  T* out = ctx.outputs[0].data<T>();
  T* lse = ctx.outputs[1].data<T>();
  const int64_t qblocks = (g.l + kQueryBlock - 1) / kQueryBlock;
  if (g.batch * qblocks == 0) return;
  parallel_for(0, g.batch * qblocks, 1, [&](int64_t lo, int64_t hi) {
    T* kt = thread_buffer<T, 10>(static_cast<size_t>(g.d * kKeyBlock));
    T* s = thread_buffer<T, 11>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    T row_max[kQueryBlock], row_sum[kQueryBlock];
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / qblocks, i0 = (task % qblocks) * kQueryBlock;
      const int64_t nq = std::min(kQueryBlock, g.l - i0);
      const T* kb = k + b * g.s * g.d;
      const T* vb = v + b * g.s * g.dv;
      T* ob = out + b * g.l * g.dv;
      const ScoreTile<T> tile{g, q + b * g.l * g.d, mask, b};
      std::fill(ob + i0 * g.dv, ob + (i0 + nq) * g.dv, T(0));
      std::fill(row_max, row_max + nq, kNegInf<T>);
      std::fill(row_sum, row_sum + nq, T(0));
      const int64_t keys = g.key_end(i0 + nq - 1);
      for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, keys - j0);
        transpose_block(kb, j0, nk, g.d, kt);
        tile.compute(kt, i0, nq, j0, nk, s);
        for (int64_t r = 0; r < nq; ++r) {
          T* sr = s + r * kKeyBlock;
          T m = row_max[r];
          for (int64_t j = 0; j < nk; ++j) m = std::max(m, sr[j]);
          if (m == kNegInf<T>) continue;  // every key so far is masked
          const T correction = std::exp(row_max[r] - m);
          T sum = 0;
          for (int64_t j = 0; j < nk; ++j) {
            sr[j] = std::exp(sr[j] - m);
            sum += sr[j];
          }
          row_sum[r] = row_sum[r] * correction + sum;
          row_max[r] = m;
          T* o = ob + (i0 + r) * g.dv;
          if (correction != T(1))
            for (int64_t c = 0; c < g.dv; ++c) o[c] *= correction;
          for (int64_t j = 0; j < nk; ++j) {
            const T p = sr[j];
            const T* vj = vb + (j0 + j) * g.dv;
            for (int64_t c = 0; c < g.dv; ++c) o[c] += p * vj[c];
          }
        }
      }
      // A row with every key masked has sum 0: NaN output, lse -inf (as softmax gives).
      for (int64_t r = 0; r < nq; ++r) {
        T* o = ob + (i0 + r) * g.dv;
        const T inv = T(1) / row_sum[r];
        for (int64_t c = 0; c < g.dv; ++c) o[c] = row_sum[r] == T(0) ? std::numeric_limits<T>::quiet_NaN() : o[c] * inv;
        lse[b * g.l + i0 + r] = row_max[r] + std::log(row_sum[r]);
      }
    }
  });
}

// With P = exp(S - lse) recomputed per tile and Δ = rowsum(dO⊙O) - (cotangent of lse):
//   dV_j += Σ_i P_ij·dO_i,  dP_ij = dO_i·V_j,  dS = P⊙(dP - Δ_i),
//   dQ_i += scale·Σ_j dS_ij·K_j,  dK_j += scale·Σ_i dS_ij·Q_i.
template <class T>
void attention_backward(const KernelContext& ctx) {
  const AttentionGeom g = geom_of(ctx, 6);
  const T* q = ctx.inputs[0].data<T>();
  const T* k = ctx.inputs[1].data<T>();
  const T* v = ctx.inputs[2].data<T>();
  const T* lse = ctx.inputs[3].data<T>();
  const T* delta = ctx.inputs[4].data<T>();
  const T* dout = ctx.inputs[5].data<T>();
  const T* mask = g.has_mask ? ctx.inputs[6].data<T>() : nullptr;
  T* dq = ctx.outputs[0].data<T>();
  T* dk = ctx.outputs[1].data<T>();
  T* dv = ctx.outputs[2].data<T>();
  const T scale = static_cast<T>(g.scale);
  parallel_for(0, g.batch, 1, [&](int64_t lo, int64_t hi) {
    T* kt = thread_buffer<T, 10>(static_cast<size_t>(g.d * kKeyBlock));
    T* vt = thread_buffer<T, 12>(static_cast<size_t>(g.dv * kKeyBlock));
    T* s = thread_buffer<T, 11>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    T* dp = thread_buffer<T, 13>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    for (int64_t b = lo; b < hi; ++b) {
      const T* qb = q + b * g.l * g.d;
      const T* kb = k + b * g.s * g.d;
      const T* vb = v + b * g.s * g.dv;
      const T* dob = dout + b * g.l * g.dv;
      T* dqb = dq + b * g.l * g.d;
      T* dkb = dk + b * g.s * g.d;
      T* dvb = dv + b * g.s * g.dv;
      std::fill(dqb, dqb + g.l * g.d, T(0));
      std::fill(dkb, dkb + g.s * g.d, T(0));
      std::fill(dvb, dvb + g.s * g.dv, T(0));
      const ScoreTile<T> tile{g, qb, mask, b};
      for (int64_t i0 = 0; i0 < g.l; i0 += kQueryBlock) {
        const int64_t nq = std::min(kQueryBlock, g.l - i0);
        const int64_t keys = g.key_end(i0 + nq - 1);
        for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
          const int64_t nk = std::min(kKeyBlock, keys - j0);
          transpose_block(kb, j0, nk, g.d, kt);
          transpose_block(vb, j0, nk, g.dv, vt);
          tile.compute(kt, i0, nq, j0, nk, s);
          for (int64_t r = 0; r < nq; ++r) {
            const int64_t i = i0 + r;
            T* sr = s + r * kKeyBlock;
            T* dpr = dp + r * kKeyBlock;
            const T row_lse = lse[b * g.l + i], row_delta = delta[b * g.l + i];
            for (int64_t j = 0; j < nk; ++j) sr[j] = std::exp(sr[j] - row_lse);  // P
            const T* doi = dob + i * g.dv;
            std::fill(dpr, dpr + nk, T(0));
            for (int64_t c = 0; c < g.dv; ++c) {
              const T d = doi[c];
              const T* vc = vt + c * kKeyBlock;
              for (int64_t j = 0; j < nk; ++j) dpr[j] += d * vc[j];
            }
            for (int64_t j = 0; j < nk; ++j) {
              const T p = sr[j];
              T* dvj = dvb + (j0 + j) * g.dv;
              for (int64_t c = 0; c < g.dv; ++c) dvj[c] += p * doi[c];
              dpr[j] = scale * p * (dpr[j] - row_delta);  // scale·dS
            }
            T* dqi = dqb + i * g.d;
            const T* qi = qb + i * g.d;
            for (int64_t j = 0; j < nk; ++j) {
              const T ds = dpr[j];
              const T* kj = kb + (j0 + j) * g.d;
              T* dkj = dkb + (j0 + j) * g.d;
              for (int64_t c = 0; c < g.d; ++c) dqi[c] += ds * kj[c];
              for (int64_t c = 0; c < g.d; ++c) dkj[c] += ds * qi[c];
            }
          }
        }
      }
    }
  });
}

}  // namespace

void attention_cpu(const KernelContext& ctx) {
  dispatch_floating(ctx.inputs[0].dtype(), "scaled_dot_product_attention",
                    [&]<class T>() { attention_forward<T>(ctx); });
}

void attention_backward_cpu(const KernelContext& ctx) {
  dispatch_floating(ctx.inputs[0].dtype(), "scaled_dot_product_attention_backward",
                    [&]<class T>() { attention_backward<T>(ctx); });
}

}  // namespace dagrad
