// softmax, log_softmax and argmax along one axis. The input is viewed as
// [outer, n, inner] (n = the axis); each output element belongs to one work item.
#include <algorithm>
#include <cmath>

#include "ops/cpu/reduce.h"
#include "ops/shape_util.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kColChunk = 256;  // inner columns per work item
constexpr int64_t kWork = 16384;    // elements that make a work piece worth a thread

// y = exp(x - max) / Σ exp(x - max), or its log: x - max - log Σ exp(x - max).
template <class T, bool kLog>
void softmax_rows(const T* x, T* y, const AxisView& v) {
  const int64_t n = v.n;
  parallel_for(0, v.outer, std::max<int64_t>(1, kWork / n), [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const T* xr = x + r * n;
      T* yr = y + r * n;
      T m = xr[0];
      for (int64_t i = 1; i < n; ++i) m = std::max(m, xr[i]);
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        T e = std::exp(xr[i] - m);
        if constexpr (!kLog) yr[i] = e;
        s += e;
      }
      if constexpr (kLog) {
        const T shift = m + static_cast<T>(std::log(s));
        for (int64_t i = 0; i < n; ++i) yr[i] = xr[i] - shift;
      } else {
        const T inv = static_cast<T>(1.0 / s);
        for (int64_t i = 0; i < n; ++i) yr[i] *= inv;
      }
    }
  });
}

// Same along a strided axis: a chunk of inner columns at a time, vectorised across them.
template <class T, bool kLog>
void softmax_columns(const T* x, T* y, const AxisView& v) {
  const int64_t n = v.n, inner = v.inner, chunks = (inner + kColChunk - 1) / kColChunk;
  parallel_for(0, v.outer * chunks, std::max<int64_t>(1, kWork / (n * std::min(inner, kColChunk))),
               [&](int64_t lo, int64_t hi) {
                 T m[kColChunk];
                 double s[kColChunk];
                 for (int64_t item = lo; item < hi; ++item) {
                   const int64_t c0 = (item % chunks) * kColChunk, len = std::min(kColChunk, inner - c0);
                   const int64_t base = (item / chunks) * n * inner + c0;
                   const T* xb = x + base;
                   T* yb = y + base;
                   std::copy(xb, xb + len, m);
                   for (int64_t i = 1; i < n; ++i)
                     for (int64_t j = 0; j < len; ++j) m[j] = std::max(m[j], xb[i * inner + j]);
                   std::fill(s, s + len, 0.0);
                   for (int64_t i = 0; i < n; ++i)
                     for (int64_t j = 0; j < len; ++j) {
                       T e = std::exp(xb[i * inner + j] - m[j]);
                       if constexpr (!kLog) yb[i * inner + j] = e;
                       s[j] += e;
                     }
                   if constexpr (kLog) {
                     for (int64_t j = 0; j < len; ++j) m[j] += static_cast<T>(std::log(s[j]));
                     for (int64_t i = 0; i < n; ++i)
                       for (int64_t j = 0; j < len; ++j) yb[i * inner + j] = xb[i * inner + j] - m[j];
                   } else {
                     for (int64_t j = 0; j < len; ++j) m[j] = static_cast<T>(1.0 / s[j]);
                     for (int64_t i = 0; i < n; ++i)
                       for (int64_t j = 0; j < len; ++j) yb[i * inner + j] *= m[j];
                   }
                 }
               });
}

template <bool kLog>
void softmax_kernel(const KernelContext& ctx, const char* who) {
  const Tensor& x = ctx.inputs[0];
  const AxisView v = view_along(x.shape(), ctx.params<AxisParams>().axis, who);
  if (x.numel() == 0) return;
  dispatch_floating(x.dtype(), who, [&]<class T>() {
    if (v.inner == 1)
      softmax_rows<T, kLog>(x.data<T>(), ctx.outputs[0].data<T>(), v);
    else
      softmax_columns<T, kLog>(x.data<T>(), ctx.outputs[0].data<T>(), v);
  });
}

// The first maximum wins; NaN counts as the maximum, as in PyTorch.
template <class T>
inline bool beats(T v, T best) {
  return v > best || (v != v && best == best);
}

}  // namespace

void softmax_cpu(const KernelContext& ctx) { softmax_kernel<false>(ctx, "softmax"); }
void log_softmax_cpu(const KernelContext& ctx) { softmax_kernel<true>(ctx, "log_softmax"); }

void argmax_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const AxisView v = view_along(x.shape(), ctx.params<AxisParams>().axis, "argmax");
  int64_t* out = ctx.outputs[0].data<int64_t>();
  if (ctx.outputs[0].numel() == 0) return;
  dispatch_floating(x.dtype(), "argmax", [&]<class T>() {
    const T* src = x.data<T>();
    const int64_t n = v.n, inner = v.inner, chunks = (inner + kColChunk - 1) / kColChunk;
    parallel_for(0, v.outer * chunks, std::max<int64_t>(1, kWork / (n * std::min(inner, kColChunk))),
                 [&](int64_t lo, int64_t hi) {
                   T best[kColChunk];
                   for (int64_t item = lo; item < hi; ++item) {
                     const int64_t o = item / chunks, c0 = (item % chunks) * kColChunk;
                     const int64_t len = std::min(kColChunk, inner - c0);
                     const T* xb = src + o * n * inner + c0;
                     int64_t* ob = out + o * inner + c0;
                     std::copy(xb, xb + len, best);
                     std::fill(ob, ob + len, 0);
                     for (int64_t i = 1; i < n; ++i)
                       for (int64_t j = 0; j < len; ++j)
                         if (beats(xb[i * inner + j], best[j])) best[j] = xb[i * inner + j], ob[j] = i;
                   }
                 });
  });
}

}  // namespace dagrad
