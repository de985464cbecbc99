// The shared CPU launcher of the elementwise ops: one template runs any functor of
// ops/elementwise_math.h over contiguous tensors, with NumPy broadcasting for binary
// functors, in parallel over the output. The defs file instantiates it per functor.
#pragma once
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "ops/elementwise_math.h"
#include "ops/op_def.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad::cpu {

// Output elements per parallel piece: enough work to amortise waking a thread.
inline constexpr int64_t kElementwiseGrain = 16384;

// Binary broadcasting as rows of contiguous output: dims are the output's with size-1
// dims dropped and mergeable neighbours merged (innermost last, never empty); strides
// are per input in elements, 0 where that input is broadcast. [N,C,H,W] + [1,C,1,1]
// becomes dims [N,C,H*W] with strides [C*H*W,H*W,1] and [0,1,0].
struct BroadcastPlan {
  std::vector<int64_t> dims;
  std::vector<int64_t> strides[2];
};
BroadcastPlan plan_broadcast(const Shape& out, const Shape& a, const Shape& b);

template <class T, class F>
void map_unary(const F& f, const T* x, T* out, int64_t n) {
  parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) out[i] = f(x[i]);
  });
}

// One contiguous output run; each input steps by 0 (broadcast), 1, or (generic) s.
template <class T, class F>
void binary_run(const F& f, const T* a, int64_t sa, const T* b, int64_t sb, T* out, int64_t n) {
  if (sa == 1 && sb == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  } else if (sa == 0 && sb == 1) {
    const T av = *a;
    for (int64_t i = 0; i < n; ++i) out[i] = f(av, b[i]);
  } else if (sa == 1 && sb == 0) {
    const T bv = *b;
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], bv);
  } else {
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i * sa], b[i * sb]);
  }
}

template <class T, class F>
void map_binary(const F& f, const Tensor& ta, const Tensor& tb, Tensor& tout) {
  const T* a = ta.data<T>();
  const T* b = tb.data<T>();
  T* out = tout.data<T>();
  const int64_t n = tout.numel();
  if (n == 0) return;
  const int64_t na = ta.numel(), nb = tb.numel();
  // Fast paths: same layout, or one side a single value.
  if ((na == n || na == 1) && (nb == n || nb == 1)) {
    const int64_t sa = na == n ? 1 : 0, sb = nb == n ? 1 : 0;
    parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
      binary_run(f, a + lo * sa, sa, b + lo * sb, sb, out + lo, hi - lo);
    });
    return;
  }
  const BroadcastPlan p = plan_broadcast(tout.shape(), ta.shape(), tb.shape());
  const int r = static_cast<int>(p.dims.size());
  const int64_t row_len = p.dims[r - 1];
  const int64_t sa_in = p.strides[0][r - 1], sb_in = p.strides[1][r - 1];
  parallel_for(0, n, kElementwiseGrain, [&](int64_t lo, int64_t hi) {
    // Odometer over the outer dims, started at lo's row.
    std::vector<int64_t> coord(r - 1);
    int64_t row = lo / row_len, col = lo % row_len;
    int64_t row_a = 0, row_b = 0;
    for (int d = r - 2; d >= 0; --d) {
      coord[d] = row % p.dims[d];
      row /= p.dims[d];
      row_a += coord[d] * p.strides[0][d];
      row_b += coord[d] * p.strides[1][d];
    }
    for (int64_t i = lo; i < hi;) {
      const int64_t len = std::min(row_len - col, hi - i);
      binary_run(f, a + row_a + col * sa_in, sa_in, b + row_b + col * sb_in, sb_in, out + i, len);
      i += len;
      col = 0;
      for (int d = r - 2; d >= 0; --d) {
        row_a += p.strides[0][d];
        row_b += p.strides[1][d];
        if (++coord[d] < p.dims[d]) break;
        row_a -= p.strides[0][d] * p.dims[d];
        row_b -= p.strides[1][d] * p.dims[d];
        coord[d] = 0;
      }
    }
  });
}

// F<T> from the node's scalar parameters (ElementwiseDef::params), in member order.
template <template <class> class F, int NumParams, class T>
F<T> make_functor(const double* params) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return F<T>{static_cast<T>(params[I])...};
  }(std::make_index_sequence<NumParams>{});
}

template <template <class> class F>
inline constexpr bool is_unary_functor = std::is_invocable_v<F<float>, float>;

// ElementwiseDef::tile_f32 / tile_f64: out[i] = f(in[0][i], in[1][i]) over n elements.
template <template <class> class F, int NumParams, class T>
void tile(const T* const* in, T* out, int64_t n, const double* params) {
  const F<T> f = make_functor<F, NumParams, T>(params);
  if constexpr (is_unary_functor<F>) {
    const T* x = in[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  } else {
    const T* a = in[0];
    const T* b = in[1];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  }
}

// The CPU kernel of an elementwise op whose per-element math is F.
template <template <class> class F, int NumParams>
void elementwise_kernel(const KernelContext& ctx) {
  const Node& node = ctx.node;
  const ElementwiseDef& ew = node.op->elementwise;
  const std::vector<double> params = ew.params ? ew.params(node.attrs) : std::vector<double>{};
  DAGRAD_ASSERT(static_cast<int>(params.size()) == NumParams);
  Tensor& out = ctx.outputs[0];
  dispatch_floating(out.dtype(), node.op_name(), [&]<class T>() {
    const F<T> f = make_functor<F, NumParams, T>(params.data());
    if constexpr (is_unary_functor<F>)
      map_unary(f, ctx.inputs[0].data<T>(), out.data<T>(), out.numel());
    else
      map_binary<T>(f, ctx.inputs[0], ctx.inputs[1], out);
  });
}

}  // namespace dagrad::cpu
