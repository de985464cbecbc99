// 2-D max and average pooling and their backward ops on the CPU, parallel over the
// N*C planes. Backward ops scatter within their own plane in a fixed order, so results
// never depend on the thread count.
#include "ops/cpu/pool.h"

#include <algorithm>
#include <type_traits>

#include "ops/cpu/pool_2x2.h"
#include "ops/cpu/reference_kernels.h"
#include "ops/params/conv.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Calls fn(plane index) for every N*C plane, in parallel. With an epilogue over output 0
// (epilogue_plane elements per plane), each thread then runs it on every few planes it just
// wrote, while they are still in L2 (a thread's piece can be larger than L2).
template <class Fn>
void for_each_plane(const PoolGeom& g, Fn&& fn, const Epilogue* epilogue = nullptr, int64_t epilogue_plane = 0) {
  const int64_t in_plane = g.h * g.w;
  const int64_t grain = std::max<int64_t>(1, 16384 / std::max<int64_t>(1, in_plane));
  if (epilogue) epilogue->applied = true;
  parallel_for(0, g.planes(), grain, [&](int64_t lo, int64_t hi) {
    for (int64_t block = lo; block < hi; block += grain) {
      const int64_t block_end = std::min(hi, block + grain);
      for (int64_t p = block; p < block_end; ++p) fn(p);
      if (epilogue) epilogue->run(block * epilogue_plane, block_end * epilogue_plane);
    }
  });
}

// Calls tap(ih, off_w, r) for each kernel tap (i, j) of output row oh that reads inside
// the image, in row-major window order: outputs ow in [r.lo, r.hi) read input column
// ow*sw + off_w of input row ih.
template <class Tap>
void for_each_tap(const PoolGeom& g, int64_t oh, Tap&& tap) {
  for (int64_t i = 0; i < g.kh; ++i) {
    const int64_t ih = oh * g.sh - g.ph + i;
    if (ih < 0 || ih >= g.h) continue;
    for (int64_t j = 0; j < g.kw; ++j) {
      const int64_t off_w = j - g.pw;
      tap(ih, off_w, valid_outputs(off_w, g.sw, g.w, g.ow));
    }
  }
}

// The vectorised path's case (not under reference_kernels()).
bool is_2x2_tiling(const PoolGeom& g) {
  return !reference_kernels() && g.kh == 2 && g.kw == 2 && g.sh == 2 && g.sw == 2 && g.ph == 0 && g.pw == 0;
}

// y[o] = the maximum of window o, idx[o] where it lies; x's rows lie `row` elements apart
// and its planes `plane` apart (at least g.w and g.h * row).
template <class T>
void max_pool(const PoolGeom& g, const T* x, int64_t row, int64_t plane, T* y, PoolIndex* idx,
              const Epilogue* epilogue) {
  const int64_t out_plane = g.oh * g.ow;
  for_each_plane(
      g,
      [&](int64_t p) {
        const T* xp = x + p * plane;
        T* yp = y + p * out_plane;
        PoolIndex* ip = idx + p * out_plane;
        if constexpr (std::is_same_v<T, float>) {
          if (is_2x2_tiling(g)) {
            for (int64_t oh = 0; oh < g.oh; ++oh)
              pool_2x2::max_row(xp + 2 * oh * row, xp + (2 * oh + 1) * row, yp + oh * g.ow, ip + oh * g.ow, g.ow);
            return;
          }
        }
        for (int64_t oh = 0; oh < g.oh; ++oh)
          for (int64_t ow = 0; ow < g.ow; ++ow) {
            const int64_t best = window_argmax(xp, row, window_of(g, oh, ow));
            yp[oh * g.ow + ow] = xp[best];
            ip[oh * g.ow + ow] = window_position(g, oh, ow, best / row * g.w + best % row);
          }
      },
      epilogue, out_plane);
}

// y[o] = source where idx[o] points in window o (zero where it points nowhere).
template <class T>
void max_pool_gather(const PoolGeom& g, const T* source, const PoolIndex* idx, T* y) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  for_each_plane(g, [&](int64_t p) {
    const T* sp = source + p * in_plane;
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const int64_t o = p * out_plane + oh * g.ow + ow, at = plane_index_of(g, oh, ow, idx[o]);
        y[o] = at < 0 ? T(0) : sp[at];
      }
  });
}

// dx[where idx[o] points] += dy[o], in output order; 16-bit floats sum each element in
// float32 and round once.
template <class T>
void max_pool_scatter(const PoolGeom& g, const T* dy, const PoolIndex* idx, T* dx, const Epilogue* epilogue) {
  constexpr bool half = !std::is_floating_point_v<T>;
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  for_each_plane(
      g,
      [&](int64_t p) {
        const T* dyp = dy + p * out_plane;
        const PoolIndex* ip = idx + p * out_plane;
        T* dxp = dx + p * in_plane;
        if constexpr (std::is_same_v<T, float> || half) {
          if (is_2x2_tiling(g)) {
            // Windows do not overlap: every input gets its window's gradient or zero (16-bit
            // floats move as bits, zero as +0). An odd width or height leaves a last column or
            // row that no window reads.
            using S = std::conditional_t<half, uint16_t, float>;
            const S* gy = reinterpret_cast<const S*>(dyp);
            S* d = reinterpret_cast<S*>(dxp);
            for (int64_t oh = 0; oh < g.oh; ++oh) {
              S* d0 = d + 2 * oh * g.w;
              pool_2x2::scatter_row(ip + oh * g.ow, gy + oh * g.ow, d0, d0 + g.w, g.ow);
              if (g.w > 2 * g.ow) d0[2 * g.ow] = d0[g.w + 2 * g.ow] = S(0);
            }
            std::fill(d + 2 * g.oh * g.w, d + in_plane, S(0));
            return;
          }
        }
        if constexpr (half) {
          float* sums = thread_buffer<float>(static_cast<size_t>(in_plane));
          std::fill(sums, sums + in_plane, 0.f);
          for (int64_t o = 0; o < out_plane; ++o)
            if (const int64_t at = plane_index_of(g, o / g.ow, o % g.ow, ip[o]); at >= 0)
              sums[at] += static_cast<float>(dyp[o]);
          for (int64_t i = 0; i < in_plane; ++i) dxp[i] = T(sums[i]);
        } else {
          std::fill(dxp, dxp + in_plane, T(0));
          for (int64_t oh = 0; oh < g.oh; ++oh)
            for (int64_t ow = 0; ow < g.ow; ++ow)
              if (const int64_t at = plane_index_of(g, oh, ow, ip[oh * g.ow + ow]); at >= 0)
                dxp[at] += dyp[oh * g.ow + ow];
        }
      },
      epilogue, in_plane);
}

// y[o] = Σ window o / (kh*kw): padding counts as zeros.
template <class T>
void avg_pool(const PoolGeom& g, const T* x, T* y) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  const T scale = T(1) / static_cast<T>(g.window());
  for_each_plane(g, [&](int64_t p) {
    const T* xp = x + p * in_plane;
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      T* yr = y + p * out_plane + oh * g.ow;
      std::fill(yr, yr + g.ow, T(0));
      for_each_tap(g, oh, [&](int64_t ih, int64_t off_w, ValidRange r) {
        const T* row = xp + ih * g.w;
        for (int64_t ow = r.lo; ow < r.hi; ++ow) yr[ow] += row[ow * g.sw + off_w];
      });
      for (int64_t ow = 0; ow < g.ow; ++ow) yr[ow] *= scale;
    }
  });
}

// dx[i] = Σ over the windows o holding i of dy[o] / (kh*kw).
template <class T>
void avg_pool_scatter(const PoolGeom& g, const T* dy, T* dx) {
  const int64_t in_plane = g.h * g.w, out_plane = g.oh * g.ow;
  const T scale = T(1) / static_cast<T>(g.window());
  for_each_plane(g, [&](int64_t p) {
    T* dxp = dx + p * in_plane;
    std::fill(dxp, dxp + in_plane, T(0));
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      const T* dyr = dy + p * out_plane + oh * g.ow;
      for_each_tap(g, oh, [&](int64_t ih, int64_t off_w, ValidRange r) {
        T* row = dxp + ih * g.w;
        for (int64_t ow = r.lo; ow < r.hi; ++ow) row[ow * g.sw + off_w] += dyr[ow] * scale;
      });
    }
  });
}

}  // namespace

void max_pool2d_planes(const PoolGeom& g, const float* x, int64_t row, int64_t plane, float* y, PoolIndex* idx,
                       const Epilogue* epilogue) {
  max_pool<float>(g, x, row, plane, y, idx, epilogue);
}

void max_pool2d_planes(const PoolGeom& g, const double* x, int64_t row, int64_t plane, double* y, PoolIndex* idx,
                       const Epilogue* epilogue) {
  max_pool<double>(g, x, row, plane, y, idx, epilogue);
}

void max_pool2d_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = pool_geom(x.shape(), ctx.params<PoolParams>());
  dispatch_floating(x.dtype(), "max_pool2d", [&]<class T>() {
    max_pool<T>(g, x.data<T>(), g.w, g.h * g.w, ctx.outputs[0].data<T>(), ctx.outputs[1].data<PoolIndex>(),
                ctx.epilogue);
  });
}

void max_pool2d_backward_cpu(const KernelContext& ctx) {
  const Tensor &dy = ctx.inputs[0], &idx = ctx.inputs[1];
  const PoolGeom g = pool_geom(ctx.outputs[0].shape(), ctx.params<PoolGradParams>());
  dispatch_float(dy.dtype(), "max_pool2d_backward", [&]<class T>() {
    max_pool_scatter<T>(g, dy.data<T>(), idx.data<PoolIndex>(), ctx.outputs[0].data<T>(), ctx.epilogue);
  });
}

void max_pool2d_gather_cpu(const KernelContext& ctx) {
  const Tensor &source = ctx.inputs[0], &idx = ctx.inputs[1];
  const PoolGeom g = pool_geom(source.shape(), ctx.params<PoolParams>());
  dispatch_floating(source.dtype(), "max_pool2d_gather", [&]<class T>() {
    max_pool_gather<T>(g, source.data<T>(), idx.data<PoolIndex>(), ctx.outputs[0].data<T>());
  });
}

void avg_pool2d_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const PoolGeom g = pool_geom(x.shape(), ctx.params<PoolParams>());
  dispatch_floating(x.dtype(), "avg_pool2d", [&]<class T>() { avg_pool<T>(g, x.data<T>(), ctx.outputs[0].data<T>()); });
}

void avg_pool2d_backward_cpu(const KernelContext& ctx) {
  const Tensor& dy = ctx.inputs[0];
  const PoolGeom g = pool_geom(ctx.outputs[0].shape(), ctx.params<PoolGradParams>());
  dispatch_floating(dy.dtype(), "avg_pool2d_backward",
                    [&]<class T>() { avg_pool_scatter<T>(g, dy.data<T>(), ctx.outputs[0].data<T>()); });
}

}  // namespace dagrad
