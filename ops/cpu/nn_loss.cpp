// Classification losses and metrics (accuracy, confusion matrix) over [N,C] scores and
// int64 targets. Rows run in parallel; the batch mean is summed afterwards in row order,
// so the result does not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <vector>

#include "ops/cpu/nn_kernels.h"
#include "ops/params/nn.h"
#include "runtime/convert.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// Checked in order before any parallel work, so the reported row is always the first bad one.
void check_targets(const KernelContext& ctx, const Tensor& target, int64_t classes, const char* what = "target") {
  const int64_t* t = target.data<int64_t>();
  for (int64_t i = 0; i < target.numel(); ++i)
    if (t[i] < 0 || t[i] >= classes)
      throw ValueError(str_cat("[", ctx.node.op_name(), "] ", what, "[", i, "] = ", t[i], " is out of range for ",
                               classes, " classes"));
}

// Rows per parallel piece: enough work to be worth a thread.
int64_t row_grain(int64_t classes) { return std::max<int64_t>(1, 8192 / std::max<int64_t>(1, classes)); }

// Row maximum and sum of exp(x - max), the stable pieces of log-sum-exp.
template <class T>
void row_max_sumexp(const T* r, int64_t c, T& m, double& s) {
  m = r[0];
  for (int64_t j = 1; j < c; ++j) m = std::max(m, r[j]);
  s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(r[j] - m);
}

}  // namespace

void nll_loss_cpu(const KernelContext& ctx) {
  const Tensor& lp = ctx.inputs[0];
  const Tensor& target = ctx.inputs[1];
  const int64_t n = lp.shape()[0], c = lp.shape()[1];
  check_targets(ctx, target, c);
  const int64_t* t = target.data<int64_t>();
  dispatch_floating(lp.dtype(), "nll_loss", [&]<class T>() {
    const T* p = lp.data<T>();
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) acc -= p[i * c + t[i]];
    ctx.outputs[0].data<T>()[0] = static_cast<T>(acc / static_cast<double>(n));
  });
}

// d/dlog_probs[i,j] = -grad / N where j == target[i], else 0.
void nll_loss_backward_cpu(const KernelContext& ctx) {
  const Tensor& lp = ctx.inputs[1];
  const Tensor& target = ctx.inputs[2];
  const int64_t n = lp.shape()[0], c = lp.shape()[1];
  check_targets(ctx, target, c);
  const int64_t* t = target.data<int64_t>();
  dispatch_floating(lp.dtype(), "nll_loss_backward", [&]<class T>() {
    const T v = static_cast<T>(-static_cast<double>(ctx.inputs[0].data<T>()[0]) / static_cast<double>(n));
    T* out = ctx.outputs[0].data<T>();
    parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
      std::fill(out + lo * c, out + hi * c, T(0));
      for (int64_t i = lo; i < hi; ++i) out[i * c + t[i]] = v;
    });
  });
}

// loss = mean_i (log Σ_j exp(x[i,j]) - x[i,target[i]]).
void softmax_cross_entropy_cpu(const KernelContext& ctx) {
  const Tensor& logits = ctx.inputs[0];
  const Tensor& target = ctx.inputs[1];
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  check_targets(ctx, target, c);
  const int64_t* t = target.data<int64_t>();
  dispatch_floating(logits.dtype(), "softmax_cross_entropy", [&]<class T>() {
    const T* x = logits.data<T>();
    std::vector<double> row_loss(n);
    parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T* r = x + i * c;
        T m;
        double s;
        row_max_sumexp(r, c, m, s);
        row_loss[i] = std::log(s) + static_cast<double>(m) - static_cast<double>(r[t[i]]);
      }
    });
    double acc = 0;
    for (int64_t i = 0; i < n; ++i) acc += row_loss[i];
    ctx.outputs[0].data<T>()[0] = static_cast<T>(acc / static_cast<double>(n));
  });
}

// dlogits[i,:] = grad / N · (softmax(x[i,:]) - onehot(target[i])).
void softmax_cross_entropy_backward_cpu(const KernelContext& ctx) {
  const Tensor& logits = ctx.inputs[1];
  const Tensor& target = ctx.inputs[2];
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  check_targets(ctx, target, c);
  const int64_t* t = target.data<int64_t>();
  dispatch_floating(logits.dtype(), "softmax_cross_entropy_backward", [&]<class T>() {
    const double scale = static_cast<double>(ctx.inputs[0].data<T>()[0]) / static_cast<double>(n);
    const T* x = logits.data<T>();
    T* out = ctx.outputs[0].data<T>();
    parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T* r = x + i * c;
        T* o = out + i * c;
        T m = r[0];
        for (int64_t j = 1; j < c; ++j) m = std::max(m, r[j]);
        double s = 0;
        for (int64_t j = 0; j < c; ++j) {
          o[j] = std::exp(r[j] - m);
          s += o[j];
        }
        const T k = static_cast<T>(scale / s);
        for (int64_t j = 0; j < c; ++j) o[j] *= k;
        o[t[i]] -= static_cast<T>(scale);
      }
    });
  });
}

// Ties go to the first maximum, as argmax does.
void accuracy_cpu(const KernelContext& ctx) {
  const Tensor& logits = ctx.inputs[0];
  const Tensor& target = ctx.inputs[1];
  const int64_t n = logits.shape()[0], c = logits.shape()[1];
  check_targets(ctx, target, c);
  const int64_t* t = target.data<int64_t>();
  dispatch_floating(logits.dtype(), "accuracy", [&]<class T>() {
    const T* x = logits.data<T>();
    char* hit = thread_buffer<char>(static_cast<size_t>(n));
    parallel_for(0, n, row_grain(c), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        const T* r = x + i * c;
        int64_t best = 0;
        for (int64_t j = 1; j < c; ++j)
          if (r[j] > r[best]) best = j;
        hit[i] = best == t[i];
      }
    });
    int64_t correct = 0;
    for (int64_t i = 0; i < n; ++i) correct += hit[i];
    ctx.outputs[0].data<float>()[0] = static_cast<float>(static_cast<double>(correct) / static_cast<double>(n));
  });
}

// counts[t][p] += 1 for each sample; sequential, N is one batch.
void confusion_matrix_cpu(const KernelContext& ctx) {
  const Tensor &predicted = ctx.inputs[0], &target = ctx.inputs[1];
  const int64_t classes = ctx.params<ConfusionParams>().num_classes;
  check_targets(ctx, predicted, classes, "predicted");
  check_targets(ctx, target, classes);
  const int64_t *p = predicted.data<int64_t>(), *t = target.data<int64_t>();
  int64_t* counts = ctx.outputs[0].data<int64_t>();
  std::fill(counts, counts + classes * classes, int64_t{0});
  for (int64_t i = 0; i < target.numel(); ++i) ++counts[t[i] * classes + p[i]];
}

// out[o, k, i] = (index[o, i] == k), the new axis k between the index's outer and inner dims.
void one_hot_cpu(const KernelContext& ctx) {
  const OneHotParams& p = ctx.params<OneHotParams>();
  const Tensor& idx = ctx.inputs[0];
  Tensor& out = ctx.outputs[0];
  const OneHotLayout layout = one_hot_layout(p, out.shape());
  const int64_t outer = layout.outer, inner = layout.inner;
  out.fill(0.0);
  dispatch_integral(idx.dtype(), "one_hot", [&]<class I>() {
    dispatch_all(out.dtype(), [&]<class T>() {
      const I* in = idx.data<I>();
      T* o = out.data<T>();
      for (int64_t a = 0; a < outer; ++a)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t k = static_cast<int64_t>(in[a * inner + i]);
          if (p.negative_wraps && k < 0) k += p.depth;
          if (k >= 0 && k < p.depth) o[(a * p.depth + k) * inner + i] = convert<T>(true);
        }
    });
  });
}

}  // namespace dagrad
