// Layer normalisation over x viewed as [rows, cols] (RowGeom). Rows are independent tasks;
// the column sums of the backward pass (dgamma, dbeta) are added per fixed block of rows
// and the blocks in order, so no result depends on the thread count.
#include <algorithm>
#include <cmath>

#include "ops/cpu/lane_sum.h"
#include "ops/cpu/norm.h"
#include "ops/params/norm.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Rows per parallel piece (forward) and per block of column partial sums (backward):
// enough values to be worth a thread, a function of the shape alone.
int64_t row_grain(const RowGeom& d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d.cols)); }

RowGeom geom_of(const KernelContext& ctx, const Tensor& x) {
  return row_geom(x.shape(), layer_norm_first_dim(x.shape(), ctx.params<LayerNormParams>().axis));
}

}  // namespace

void layer_norm_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  const RowGeom d = geom_of(ctx, x);
  const double eps = ctx.params<LayerNormParams>().epsilon;
  const bool has_gamma = ctx.inputs.size() > 1, has_beta = ctx.inputs.size() > 2;
  dispatch_floating(x.dtype(), "layer_norm", [&]<class T>() {
    const T* xp = x.data<T>();
    const T* gamma = has_gamma ? ctx.inputs[1].data<T>() : nullptr;
    const T* beta = has_beta ? ctx.inputs[2].data<T>() : nullptr;
    T* y = ctx.outputs[0].data<T>();
    T* save_mean = ctx.outputs[1].data<T>();
    T* save_invstd = ctx.outputs[2].data<T>();
    const double cols = static_cast<double>(d.cols);
    // Rows r0 .. r0 + kRuns - 1: their mean and invstd, saved.
    auto stats = [&]<int kRuns>(int64_t r0) {
      double sums[kRuns];
      lane_sums<T, kRuns>(
          d.cols, [&](int k, int64_t i) { return xp[(r0 + k) * d.cols + i]; }, sums);
      T m[kRuns];
      for (int k = 0; k < kRuns; ++k) m[k] = save_mean[r0 + k] = static_cast<T>(sums[k] / cols);
      lane_sums<T, kRuns>(
          d.cols,
          [&](int k, int64_t i) {
            const T* xr = xp + (r0 + k) * d.cols;
            return (xr[i] - m[k]) * (xr[i] - m[k]);
          },
          sums);
      for (int k = 0; k < kRuns; ++k) save_invstd[r0 + k] = static_cast<T>(1.0 / std::sqrt(sums[k] / cols + eps));
    };
    parallel_for(0, d.rows, row_grain(d), [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        // Four rows' statistics at a time (the same sums: lane_sums), the last few alone.
        if (r + 4 <= hi && (r - lo) % 4 == 0)
          stats.template operator()<4>(r);
        else if (r >= lo + (hi - lo) / 4 * 4)
          stats.template operator()<1>(r);
        const T* xr = xp + r * d.cols;
        T* yr = y + r * d.cols;
        const T m = save_mean[r], is = save_invstd[r];
        if (beta)
          for (int64_t i = 0; i < d.cols; ++i) yr[i] = (xr[i] - m) * is * gamma[i] + beta[i];
        else if (gamma)
          for (int64_t i = 0; i < d.cols; ++i) yr[i] = (xr[i] - m) * is * gamma[i];
        else
          for (int64_t i = 0; i < d.cols; ++i) yr[i] = (xr[i] - m) * is;
      }
    });
  });
}

// Per row, with x̂ = (x - mean)·invstd and g' = dy·gamma:
//   dx = invstd·(g' - Σg'/M - x̂·Σ(g'·x̂)/M);  per column: dgamma = Σ_rows dy·x̂, dbeta = Σ_rows dy.
void layer_norm_backward_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[1];
  const RowGeom d = geom_of(ctx, x);
  const bool affine = ctx.inputs.size() == 5;
  dispatch_floating(x.dtype(), "layer_norm_backward", [&]<class T>() {
    const T* dy = ctx.inputs[0].data<T>();
    const T* xp = x.data<T>();
    const T* save_mean = ctx.inputs[2].data<T>();
    const T* save_invstd = ctx.inputs[3].data<T>();
    const T* gamma = affine ? ctx.inputs[4].data<T>() : nullptr;
    T* dx = ctx.outputs[0].data<T>();
    const int64_t block = row_grain(d), blocks = (d.rows + block - 1) / block;
    // Column partial sums of each block of rows, [blocks][stride] (dgamma's, then dbeta's):
    // each block's on cache lines of its own, since the threads accumulate into them row
    // after row.
    const int64_t stride = line_padded<T>(2 * d.cols);
    T* partial = affine ? thread_buffer<T, 1>(static_cast<size_t>(blocks * stride)) : nullptr;
    const double cols = static_cast<double>(d.cols);
    parallel_for(0, blocks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t b = lo; b < hi; ++b) {
        T* pg = affine ? partial + b * stride : nullptr;
        T* pb = affine ? pg + d.cols : nullptr;
        if (affine) std::fill(pg, pg + 2 * d.cols, T(0));
        for (int64_t r = b * block; r < std::min(d.rows, (b + 1) * block); ++r) {
          const T* dyr = dy + r * d.cols;
          const T* xr = xp + r * d.cols;
          T* dxr = dx + r * d.cols;
          const T m = save_mean[r], is = save_invstd[r];
          const double s1 = lane_sum<T>(d.cols, [&](int64_t i) { return gamma ? dyr[i] * gamma[i] : dyr[i]; });
          const double s2 = lane_sum<T>(
              d.cols, [&](int64_t i) { return (gamma ? dyr[i] * gamma[i] : dyr[i]) * ((xr[i] - m) * is); });
          const T k1 = static_cast<T>(s1 / cols), k2 = static_cast<T>(s2 / cols);
          for (int64_t i = 0; i < d.cols; ++i) {
            const T xhat = (xr[i] - m) * is;
            const T gp = gamma ? dyr[i] * gamma[i] : dyr[i];
            dxr[i] = is * (gp - k1 - xhat * k2);
          }
          if (affine)
            for (int64_t i = 0; i < d.cols; ++i) {
              pg[i] += dyr[i] * ((xr[i] - m) * is);
              pb[i] += dyr[i];
            }
        }
      }
    });
    if (!affine) return;
    T* dgamma = ctx.outputs[1].data<T>();
    T* dbeta = ctx.outputs[2].data<T>();
    parallel_for(0, d.cols, 1024, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        double sg = 0, sb = 0;
        for (int64_t b = 0; b < blocks; ++b) {
          sg += partial[b * stride + i];
          sb += partial[b * stride + d.cols + i];
        }
        dgamma[i] = static_cast<T>(sg);
        dbeta[i] = static_cast<T>(sb);
      }
    });
  });
}

}  // namespace dagrad
