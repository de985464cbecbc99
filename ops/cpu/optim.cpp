// The optimizer updates on the CPU: the per-element steps of ops/optim_math.h (which
// the CUDA kernels run too) in parallel loops. lr (and Adam's step count) are float32
// scalars in graph values, so a schedule changes them without recompiling.
#include "ops/cpu/optim.h"

#include <cmath>

#include "ops/optim_math.h"
#include "ops/params/optim.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {
constexpr int64_t kGrain = 1 << 14;
}  // namespace

void sgd_update_cpu(const KernelContext& ctx) {
  const SgdParams& p = ctx.params<SgdParams>();
  const float lr = ctx.inputs[2].data<float>()[0];
  const bool has_buf = ctx.inputs.size() == 4;
  dispatch_floating(ctx.inputs[0].dtype(), "sgd_update", [&]<class T>() {
    SgdStep<T> step{T(lr), T(p.momentum), T(p.weight_decay), p.nesterov};
    T* param = ctx.inputs[0].data<T>();
    const T* g = ctx.inputs[1].data<T>();
    T* buf = has_buf ? ctx.inputs[3].data<T>() : nullptr;
    parallel_for(0, ctx.inputs[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
      // Distinct buffers and the step's constants in locals: the loops vectorise.
      const SgdStep<T> st = step;
      T* __restrict pp = param;
      const T* __restrict gp = g;
      T* __restrict bp = buf;
      if (bp)
        for (int64_t i = lo; i < hi; ++i) st(pp[i], gp[i], bp + i);
      else
        for (int64_t i = lo; i < hi; ++i) st(pp[i], gp[i], nullptr);
    });
  });
}

void adam_update_cpu(const KernelContext& ctx) {
  const AdamParams& p = ctx.params<AdamParams>();
  const float lr = ctx.inputs[2].data<float>()[0];
  float& t = ctx.inputs[5].data<float>()[0];
  t += 1;  // the kernel owns the step count: one increment per update
  dispatch_floating(ctx.inputs[0].dtype(), "adam_update", [&]<class T>() {
    AdamStep<T> step{T(lr),
                     T(p.beta1),
                     T(p.beta2),
                     T(p.eps),
                     T(p.weight_decay),
                     p.decoupled_weight_decay,
                     T(1 - std::pow(p.beta1, double(t))),
                     T(std::sqrt(1 - std::pow(p.beta2, double(t))))};
    T* param = ctx.inputs[0].data<T>();
    const T* g = ctx.inputs[1].data<T>();
    T* m = ctx.inputs[3].data<T>();
    T* v = ctx.inputs[4].data<T>();
    parallel_for(0, ctx.inputs[0].numel(), kGrain, [&](int64_t lo, int64_t hi) {
      // Four distinct buffers (restrict), the step's constants in locals, and sqrt without
      // errno (this file is built with -fno-math-errno): the loop vectorises.
      const AdamStep<T> st = step;
      T* __restrict pp = param;
      const T* __restrict gp = g;
      T* __restrict mp = m;
      T* __restrict vp = v;
      for (int64_t i = lo; i < hi; ++i) st(pp[i], gp[i], mp[i], vp[i]);
    });
  });
}

}  // namespace dagrad
