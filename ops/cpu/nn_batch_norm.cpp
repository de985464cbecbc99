// Batch normalisation over x viewed as [N, C, S] (S = H·W, or 1 for [N,C]). Each channel
// is one task of the parallel loop and sums in a fixed order, so results do not depend
// on the thread count.
#include <algorithm>
#include <cmath>

#include "ops/cpu/lane_sum.h"
#include "ops/cpu/nn_kernels.h"
#include "ops/params/nn.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Channels per parallel piece: enough values to be worth a thread.
int64_t channel_grain(const ChannelGeom& d) { return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, d.count())); }

}  // namespace

// Training: batch mean and biased variance normalise; running stats move toward the
// batch mean and the unbiased variance (PyTorch's rule). Eval: running stats normalise.
void batch_norm_cpu(const KernelContext& ctx) {
  const BatchNormParams& p = ctx.params<BatchNormParams>();
  const bool training = p.training;
  const double momentum = p.momentum, eps = p.eps;
  const Tensor& x = ctx.inputs[0];
  const ChannelGeom d = channel_geom(x.shape());
  dispatch_floating(x.dtype(), "batch_norm", [&]<class T>() {
    const T* xp = x.data<T>();
    const T* gamma = ctx.inputs[1].data<T>();
    const T* beta = ctx.inputs[2].data<T>();
    T* running_mean = ctx.inputs[3].data<T>();  // written in place in training mode
    T* running_var = ctx.inputs[4].data<T>();
    T* y = ctx.outputs[0].data<T>();
    T* save_mean = ctx.outputs[1].data<T>();
    T* save_invstd = ctx.outputs[2].data<T>();
    const double count = static_cast<double>(d.count());
    parallel_for(0, d.c, channel_grain(d), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        double mean, var;
        if (training) {
          double sum = 0;
          for (int64_t n = 0; n < d.n; ++n) {
            const T* xi = xp + (n * d.c + c) * d.s;
            sum += lane_sum<T>(d.s, [&](int64_t i) { return xi[i]; });
          }
          mean = sum / count;
          const T m = static_cast<T>(mean);
          double sq = 0;
          for (int64_t n = 0; n < d.n; ++n) {
            const T* xi = xp + (n * d.c + c) * d.s;
            sq += lane_sum<T>(d.s, [&](int64_t i) { return (xi[i] - m) * (xi[i] - m); });
          }
          var = sq / count;
          running_mean[c] = static_cast<T>((1 - momentum) * running_mean[c] + momentum * mean);
          running_var[c] = static_cast<T>((1 - momentum) * running_var[c] + momentum * var * count / (count - 1));
        } else {
          mean = running_mean[c];
          var = running_var[c];
        }
        const double invstd = 1.0 / std::sqrt(var + eps);
        save_mean[c] = static_cast<T>(mean);
        save_invstd[c] = static_cast<T>(invstd);
        const T m = static_cast<T>(mean), a = static_cast<T>(gamma[c] * invstd), b = beta[c];
        for (int64_t n = 0; n < d.n; ++n) {
          const T* xi = xp + (n * d.c + c) * d.s;
          T* yi = y + (n * d.c + c) * d.s;
          for (int64_t s = 0; s < d.s; ++s) yi[s] = (xi[s] - m) * a + b;
        }
      }
    });
  });
}

// With x̂ = (x - mean)·invstd and M values per channel:
//   dbeta = Σ dy,  dgamma = Σ dy·x̂,  dx = gamma·invstd·(dy - dbeta/M - x̂·dgamma/M).
void batch_norm_backward_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[1];
  const ChannelGeom d = channel_geom(x.shape());
  dispatch_floating(x.dtype(), "batch_norm_backward", [&]<class T>() {
    const T* dy = ctx.inputs[0].data<T>();
    const T* xp = x.data<T>();
    const T* gamma = ctx.inputs[2].data<T>();
    const T* save_mean = ctx.inputs[3].data<T>();
    const T* save_invstd = ctx.inputs[4].data<T>();
    T* dx = ctx.outputs[0].data<T>();
    T* dgamma = ctx.outputs[1].data<T>();
    T* dbeta = ctx.outputs[2].data<T>();
    const double count = static_cast<double>(d.count());
    parallel_for(0, d.c, channel_grain(d), [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const double mean = save_mean[c], invstd = save_invstd[c];
        const T m = static_cast<T>(mean);
        double sdy = 0, sdy_xm = 0;
        for (int64_t n = 0; n < d.n; ++n) {
          const T *dyi = dy + (n * d.c + c) * d.s, *xi = xp + (n * d.c + c) * d.s;
          sdy += lane_sum<T>(d.s, [&](int64_t i) { return dyi[i]; });
          sdy_xm += lane_sum<T>(d.s, [&](int64_t i) { return dyi[i] * (xi[i] - m); });
        }
        const double dg = sdy_xm * invstd;
        dgamma[c] = static_cast<T>(dg);
        dbeta[c] = static_cast<T>(sdy);
        // dx = k_dy·dy + k_xm·(x - mean) + k_0
        const double k = gamma[c] * invstd;
        const T k_dy = static_cast<T>(k), k_xm = static_cast<T>(-k * invstd * dg / count),
                k_0 = static_cast<T>(-k * sdy / count);
        for (int64_t n = 0; n < d.n; ++n) {
          const int64_t off = (n * d.c + c) * d.s;
          for (int64_t s = 0; s < d.s; ++s) dx[off + s] = k_dy * dy[off + s] + k_xm * (xp[off + s] - m) + k_0;
        }
      }
    });
  });
}

}  // namespace dagrad
