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
// Every product is a weighted sum of rows (weighted_rows below) whose accumulators, a
// vector of columns at a time, stay in registers: no store is reloaded in the inner loop.
#include "ops/cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/cpu/transpose.h"
#include "ops/elementwise_math.h"
#include "ops/params/attention.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kQueryBlock = 32;
constexpr int64_t kKeyBlock = 64;

template <class T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// 64-byte vectors (GCC vector extensions: one zmm, or two ymm, ...): 16 floats or 8
// doubles, read and written unaligned.
template <class T>
struct Vectors;
template <>
struct Vectors<float> {
  typedef float aligned_type __attribute__((vector_size(64)));
  typedef float unaligned_type __attribute__((vector_size(64), aligned(alignof(float))));
};
template <>
struct Vectors<double> {
  typedef double aligned_type __attribute__((vector_size(64)));
  typedef double unaligned_type __attribute__((vector_size(64), aligned(alignof(double))));
};
template <class T>
using Vec = typename Vectors<T>::aligned_type;
template <class T>
using VecU = typename Vectors<T>::unaligned_type;
template <class T>
constexpr int kLanes = static_cast<int>(64 / sizeof(T));

template <class T>
inline Vec<T> load(const T* p) {
  return *reinterpret_cast<const VecU<T>*>(p);
}
template <class T>
inline void store(T* p, Vec<T> v) {
  *reinterpret_cast<VecU<T>*>(p) = v;
}

// out[0, n) (+)= Σ_{t < count} w[t·w_stride] · rows[t·row_stride + (0, n)]: every product
// of the kernels (scores, p·v, and all the gradients) has this form. A vector of columns
// accumulates in a register over all t.
template <class T>
void weighted_rows(const T* w, int64_t w_stride, const T* rows, int64_t row_stride, int64_t count, T* out, int64_t n,
                   bool accumulate) {
  constexpr int lanes = kLanes<T>;
  int64_t c = 0;
  for (; c + 2 * lanes <= n; c += 2 * lanes) {
    Vec<T> a0 = accumulate ? load(out + c) : Vec<T>{}, a1 = accumulate ? load(out + c + lanes) : Vec<T>{};
    for (int64_t t = 0; t < count; ++t) {
      const T wt = w[t * w_stride];
      a0 += wt * load(rows + t * row_stride + c);
      a1 += wt * load(rows + t * row_stride + c + lanes);
    }
    store(out + c, a0);
    store(out + c + lanes, a1);
  }
  for (; c + lanes <= n; c += lanes) {
    Vec<T> a = accumulate ? load(out + c) : Vec<T>{};
    for (int64_t t = 0; t < count; ++t) a += w[t * w_stride] * load(rows + t * row_stride + c);
    store(out + c, a);
  }
  for (; c < n; ++c) {
    T acc = accumulate ? out[c] : T(0);
    for (int64_t t = 0; t < count; ++t) acc += w[t * w_stride] * rows[t * row_stride + c];
    out[c] = acc;
  }
}

// Rows r < nr: out[r·out_row + (0, n)] (+)= Σ_t w[r·w_row + t·w_stride] · rows[t·row_stride
// + (0, n)], each row summed exactly as weighted_rows sums it (t in order). Four rows at a
// time share every loaded vector of `rows` and keep four independent accumulator chains:
// with a head dimension of 16 a row is one vector, and alone it waits on its previous
// multiply-add at every t (bench/NOTES.md, stop 41).
template <class T>
void weighted_rows_block(const T* w, int64_t w_row, int64_t w_stride, const T* rows, int64_t row_stride, int64_t count,
                         T* out, int64_t out_row, int64_t n, bool accumulate, int64_t nr) {
  constexpr int lanes = kLanes<T>;
  constexpr int kRows = 4;
  int64_t r = 0;
  for (; r + kRows <= nr; r += kRows) {
    const T* wr = w + r * w_row;
    T* o = out + r * out_row;
    int64_t c = 0;
    for (; c + lanes <= n; c += lanes) {
      Vec<T> a[kRows];
      for (int k = 0; k < kRows; ++k) a[k] = accumulate ? load(o + k * out_row + c) : Vec<T>{};
      for (int64_t t = 0; t < count; ++t) {
        const Vec<T> v = load(rows + t * row_stride + c);
        for (int k = 0; k < kRows; ++k) a[k] += wr[k * w_row + t * w_stride] * v;
      }
      for (int k = 0; k < kRows; ++k) store(o + k * out_row + c, a[k]);
    }
    for (int k = 0; k < kRows && c < n; ++k)  // the columns past the last vector, as weighted_rows
      weighted_rows(wr + k * w_row, w_stride, rows + c, row_stride, count, o + k * out_row + c, n - c, accumulate);
  }
  for (; r < nr; ++r) weighted_rows(w + r * w_row, w_stride, rows, row_stride, count, out + r * out_row, n, accumulate);
}

// The max and the sum of a vector's lanes by halving (log2 steps of shuffles, not one
// scalar step per lane).
template <class T>
T lanes_max(Vec<T> v) {
  if constexpr (kLanes<T> == 16) {
    Vec<T> h = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    v = v < h ? h : v;
    h = __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    v = v < h ? h : v;
    h = __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v = v < h ? h : v;
    h = __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    v = v < h ? h : v;
    return v[0];
  } else {
    T m = v[0];
    for (int k = 1; k < kLanes<T>; ++k) m = m < v[k] ? v[k] : m;
    return m;
  }
}

template <class T>
T lanes_sum(Vec<T> v) {
  if constexpr (kLanes<T> == 16) {
    v += __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7);
    v += __builtin_shufflevector(v, v, 4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11);
    v += __builtin_shufflevector(v, v, 2, 3, 0, 1, 6, 7, 4, 5, 10, 11, 8, 9, 14, 15, 12, 13);
    v += __builtin_shufflevector(v, v, 1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
    return v[0];
  } else {
    T s = 0;
    for (int k = 0; k < kLanes<T>; ++k) s += v[k];
    return s;
  }
}

// max and Σ of x[0, n), a vector of lanes at a time (the order depends on n alone).
template <class T>
T row_max(const T* x, int64_t n) {
  constexpr int lanes = kLanes<T>;
  T m = kNegInf<T>;
  int64_t j = 0;
  if (n >= lanes) {
    Vec<T> v = load(x);
    for (j = lanes; j + lanes <= n; j += lanes) {
      const Vec<T> y = load(x + j);
      v = v < y ? y : v;
    }
    m = lanes_max<T>(v);
  }
  for (; j < n; ++j) m = m < x[j] ? x[j] : m;
  return m;
}

template <class T>
T row_sum(const T* x, int64_t n) {
  constexpr int lanes = kLanes<T>;
  Vec<T> v{};
  int64_t j = 0;
  for (; j + lanes <= n; j += lanes) v += load(x + j);
  T s = lanes_sum<T>(v);
  for (; j < n; ++j) s += x[j];
  return s;
}

// xt[c·kKeyBlock + j] = row j of `rows` rows (row_stride apart) at x, dim values each:
// a key block transposed (float32 through the AVX-512 16 x 16 transposes).
template <class T>
void transpose_block(const T* x, int64_t row_stride, int64_t rows, int64_t dim, T* xt) {
  if constexpr (sizeof(T) == 4) {
    transpose_32bit(reinterpret_cast<const uint32_t*>(x), row_stride, rows, dim, reinterpret_cast<uint32_t*>(xt),
                    kKeyBlock);
  } else {
    for (int64_t j = 0; j < rows; ++j) {
      const T* xr = x + j * row_stride;
      for (int64_t c = 0; c < dim; ++c) xt[c * kKeyBlock + j] = xr[c];
    }
  }
}

// The scores of query rows [i0, i0 + nq) against keys [j0, j0 + nk) of problem b:
// s[r·kKeyBlock + j] = scale·q_i·k_j + mask, -inf where causality hides the key. kt is
// the key block transposed.
template <class T>
void scores(const AttentionGeom& g, const T* q, const T* mask, int64_t b, const T* kt, int64_t i0, int64_t nq,
            int64_t j0, int64_t nk, T* s) {
  const T scale = static_cast<T>(g.scale);
  weighted_rows_block(q + g.q_at(b, i0), g.q.sl, 1, kt, kKeyBlock, g.d, s, kKeyBlock, nk, false, nq);
  for (int64_t r = 0; r < nq; ++r) {
    const int64_t i = i0 + r;
    T* sr = s + r * kKeyBlock;
    for (int64_t j = 0; j < nk; ++j) sr[j] *= scale;
    if (mask)
      for (int64_t j = 0; j < nk; ++j) sr[j] += mask[g.mask_offset(b, i, j0 + j)];
    for (int64_t j = std::max<int64_t>(g.key_end(i) - j0, 0); j < nk; ++j) sr[j] = kNegInf<T>;
  }
}

AttentionGeom geom_of(const KernelContext& ctx, const AttentionSlots& in, size_t mask_slot) {
  const Shape* mask = ctx.inputs.size() > mask_slot ? &ctx.inputs[mask_slot].shape() : nullptr;
  return attention_geom(ctx.inputs[in.q].shape(), ctx.inputs[in.k].shape(), ctx.inputs[in.v].shape(), mask,
                        ctx.params<AttentionParams>());
}

template <class T>
void attention_forward(const KernelContext& ctx) {
  const AttentionSlots in(ctx.params<AttentionParams>());
  const AttentionGeom g = geom_of(ctx, in, in.next);
  const T* q = ctx.inputs[in.q].data<T>();
  const T* k = ctx.inputs[in.k].data<T>();
  const T* v = ctx.inputs[in.v].data<T>();
  const T* mask = g.has_mask ? ctx.inputs[in.next].data<T>() : nullptr;
  T* out = ctx.outputs[0].data<T>();
  T* lse = ctx.outputs[1].data<T>();
  const int64_t qblocks = (g.l + kQueryBlock - 1) / kQueryBlock;
  if (g.batch * qblocks == 0) return;
  parallel_for(0, g.batch * qblocks, 1, [&](int64_t lo, int64_t hi) {
    T* kt = thread_buffer<T, 10>(static_cast<size_t>(g.d * kKeyBlock));
    T* s = thread_buffer<T, 11>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    T run_max[kQueryBlock], run_sum[kQueryBlock];
    for (int64_t task = lo; task < hi; ++task) {
      const int64_t b = task / qblocks, i0 = (task % qblocks) * kQueryBlock;
      const int64_t nq = std::min(kQueryBlock, g.l - i0);
      const int64_t keys = g.key_end(i0 + nq - 1);
      if (keys <= kKeyBlock) {  // one key block (short sequences): a plain softmax, no rescaling
        transpose_block(k + g.k_at(b, 0), g.k.sl, keys, g.d, kt);
        scores(g, q, mask, b, kt, i0, nq, 0, keys, s);
        for (int64_t r = 0; r < nq; ++r) {
          T* sr = s + r * kKeyBlock;
          run_max[r] = row_max(sr, keys);
          for (int64_t j = 0; j < keys; ++j) sr[j] = math::vexp(sr[j] - run_max[r]);  // NaN when every key is masked
          run_sum[r] = run_max[r] == kNegInf<T> ? T(0) : row_sum(sr, keys);
        }
        weighted_rows_block(s, kKeyBlock, 1, v + g.v_at(b, 0), g.v.sl, keys, out + g.o_at(b, i0), g.o.sl, g.dv, false,
                            nq);  // o = p·v
        for (int64_t r = 0; r < nq; ++r) {
          T* o = out + g.o_at(b, i0 + r);
          const T sum = run_sum[r], inv = T(1) / sum;
          for (int64_t c = 0; c < g.dv; ++c) o[c] = sum == T(0) ? std::numeric_limits<T>::quiet_NaN() : o[c] * inv;
          lse[b * g.l + i0 + r] = run_max[r] + std::log(sum);
        }
        continue;
      }
      for (int64_t r = 0; r < nq; ++r) std::fill(out + g.o_at(b, i0 + r), out + g.o_at(b, i0 + r) + g.dv, T(0));
      std::fill(run_max, run_max + nq, kNegInf<T>);
      std::fill(run_sum, run_sum + nq, T(0));
      for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
        const int64_t nk = std::min(kKeyBlock, keys - j0);
        transpose_block(k + g.k_at(b, j0), g.k.sl, nk, g.d, kt);
        scores(g, q, mask, b, kt, i0, nq, j0, nk, s);
        for (int64_t r = 0; r < nq; ++r) {
          T* sr = s + r * kKeyBlock;
          const T m = std::max(run_max[r], row_max(sr, nk));
          if (m == kNegInf<T>) continue;  // every key so far is masked
          const T correction = math::vexp(run_max[r] - m);
          for (int64_t j = 0; j < nk; ++j) sr[j] = math::vexp(sr[j] - m);
          run_sum[r] = run_sum[r] * correction + row_sum(sr, nk);
          run_max[r] = m;
          T* o = out + g.o_at(b, i0 + r);
          if (correction != T(1))
            for (int64_t c = 0; c < g.dv; ++c) o[c] *= correction;
          weighted_rows(sr, 1, v + g.v_at(b, j0), g.v.sl, nk, o, g.dv, true);  // o += p·v
        }
      }
      // A row with every key masked has sum 0: NaN output, lse -inf (as softmax gives).
      for (int64_t r = 0; r < nq; ++r) {
        T* o = out + g.o_at(b, i0 + r);
        const T inv = T(1) / run_sum[r];
        for (int64_t c = 0; c < g.dv; ++c)
          o[c] = run_sum[r] == T(0) ? std::numeric_limits<T>::quiet_NaN() : o[c] * inv;
        lse[b * g.l + i0 + r] = run_max[r] + std::log(run_sum[r]);
      }
    }
  });
}

// With P = exp(S - lse) recomputed per tile and Δ = rowsum(dO⊙O) - (cotangent of lse):
//   dV_j += Σ_i P_ij·dO_i,  dP_ij = dO_i·V_j,  dS = P⊙(dP - Δ_i),
//   dQ_i += scale·Σ_j dS_ij·K_j,  dK_j += scale·Σ_i dS_ij·Q_i.
// The gradients have their inputs' layouts (packed: one dqkv); out and dout have out's.
// Inputs after q, k, v: out, lse, dout, then the mask and the cotangent of lse if given.
template <class T>
void attention_backward(const KernelContext& ctx) {
  const AttentionSlots in(ctx.params<AttentionParams>());
  const bool lse_grad = ctx.params<AttentionParams>().lse_grad;
  const bool has_mask = ctx.inputs.size() == in.next + 4 + (lse_grad ? 1 : 0);
  const AttentionGeom g = geom_of(ctx, in, has_mask ? in.next + 3 : ctx.inputs.size());
  const T* q = ctx.inputs[in.q].data<T>();
  const T* k = ctx.inputs[in.k].data<T>();
  const T* v = ctx.inputs[in.v].data<T>();
  const T* out = ctx.inputs[in.next].data<T>();
  const T* lse = ctx.inputs[in.next + 1].data<T>();
  const T* dout = ctx.inputs[in.next + 2].data<T>();
  const T* mask = has_mask ? ctx.inputs[in.next + 3].data<T>() : nullptr;
  const T* glse = lse_grad ? ctx.inputs.back().data<T>() : nullptr;
  T* dq = ctx.outputs[in.q].data<T>();
  T* dk = ctx.outputs[in.k].data<T>();
  T* dv = ctx.outputs[in.v].data<T>();
  const T scale = static_cast<T>(g.scale);
  parallel_for(0, g.batch, 1, [&](int64_t lo, int64_t hi) {
    T* kt = thread_buffer<T, 10>(static_cast<size_t>(g.d * kKeyBlock));
    T* vt = thread_buffer<T, 12>(static_cast<size_t>(g.dv * kKeyBlock));
    T* p = thread_buffer<T, 11>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    T* ds = thread_buffer<T, 13>(static_cast<size_t>(kQueryBlock * kKeyBlock));
    for (int64_t b = lo; b < hi; ++b) {
      for (int64_t i = 0; i < g.l; ++i) std::fill(dq + g.q_at(b, i), dq + g.q_at(b, i) + g.d, T(0));
      for (int64_t j = 0; j < g.s; ++j) {
        std::fill(dk + g.k_at(b, j), dk + g.k_at(b, j) + g.d, T(0));
        std::fill(dv + g.v_at(b, j), dv + g.v_at(b, j) + g.dv, T(0));
      }
      for (int64_t i0 = 0; i0 < g.l; i0 += kQueryBlock) {
        const int64_t nq = std::min(kQueryBlock, g.l - i0);
        const int64_t keys = g.key_end(i0 + nq - 1);
        T delta[kQueryBlock];  // Δ of the block's rows
        for (int64_t r = 0; r < nq; ++r) {
          const T* o = out + g.o_at(b, i0 + r);
          const T* d = dout + g.o_at(b, i0 + r);
          T acc = 0;
          for (int64_t c = 0; c < g.dv; ++c) acc += d[c] * o[c];
          delta[r] = glse ? acc - glse[b * g.l + i0 + r] : acc;
        }
        for (int64_t j0 = 0; j0 < keys; j0 += kKeyBlock) {
          const int64_t nk = std::min(kKeyBlock, keys - j0);
          transpose_block(k + g.k_at(b, j0), g.k.sl, nk, g.d, kt);
          transpose_block(v + g.v_at(b, j0), g.v.sl, nk, g.dv, vt);
          scores(g, q, mask, b, kt, i0, nq, j0, nk, p);
          for (int64_t r = 0; r < nq; ++r) {
            T* pr = p + r * kKeyBlock;
            const T row_lse = lse[b * g.l + i0 + r];
            for (int64_t j = 0; j < nk; ++j) pr[j] = math::vexp(pr[j] - row_lse);
          }
          weighted_rows_block(dout + g.o_at(b, i0), g.o.sl, 1, vt, kKeyBlock, g.dv, ds, kKeyBlock, nk, false,
                              nq);  // dP = dO·vᵀ
          for (int64_t r = 0; r < nq; ++r) {
            const T* pr = p + r * kKeyBlock;
            T* dsr = ds + r * kKeyBlock;
            for (int64_t j = 0; j < nk; ++j) dsr[j] = scale * pr[j] * (dsr[j] - delta[r]);  // scale·dS
          }
          weighted_rows_block(ds, kKeyBlock, 1, k + g.k_at(b, j0), g.k.sl, nk, dq + g.q_at(b, i0), g.q.sl, g.d, true,
                              nq);  // dQ_i
          weighted_rows_block(p, 1, kKeyBlock, dout + g.o_at(b, i0), g.o.sl, nq, dv + g.v_at(b, j0), g.v.sl, g.dv, true,
                              nk);  // dV_j
          weighted_rows_block(ds, 1, kKeyBlock, q + g.q_at(b, i0), g.q.sl, nq, dk + g.k_at(b, j0), g.k.sl, g.d, true,
                              nk);  // dK_j
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
