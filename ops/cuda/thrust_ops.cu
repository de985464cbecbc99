// The fills and per-element transforms that Thrust expresses directly: constant fills
// and the optimizer updates (SgdStep / AdamStep of ops/optim_math.h, the CPU's functors).
// Every algorithm runs on the caller's stream with par_nosync: Thrust's default policy
// would wait for the stream after each call. Thrust stays in this one file (it is slow
// to compile).
#include <thrust/execution_policy.h>
#include <thrust/fill.h>
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>

#include <cmath>

#include "ops/cuda/device_utils.cuh"
#include "ops/optim_math.h"

static_assert(THRUST_VERSION >= 200000, "the CUDA toolkit's Thrust (CCCL) is expected, not an older system copy");

namespace dagrad::cuda {

namespace {

auto on(cudaStream_t stream) { return thrust::cuda::par_nosync.on(stream); }

template <class T>
struct SgdElement {
  T* p;
  const T* g;
  T* buf;  // null without momentum
  const float* lr;
  T momentum, weight_decay;
  bool nesterov;
  __device__ void operator()(int64_t i) const {
    const SgdStep<T> step{static_cast<T>(*lr), momentum, weight_decay, nesterov};
    step(p[i], g[i], buf ? buf + i : nullptr);
  }
};

// The step count t is read before and incremented after the update (stream order), so
// every element sees the same new t = t + 1, as on the CPU.
template <class T>
struct AdamElement {
  T *p, *m, *v;
  const T* g;
  const float* lr;
  const float* t;
  double beta1, beta2;
  T eps, weight_decay;
  bool decoupled;
  __device__ void operator()(int64_t i) const {
    const float t_new = *t + 1.0f;
    const AdamStep<T> step{static_cast<T>(*lr),
                           static_cast<T>(beta1),
                           static_cast<T>(beta2),
                           eps,
                           weight_decay,
                           decoupled,
                           static_cast<T>(1 - ::pow(beta1, static_cast<double>(t_new))),
                           static_cast<T>(::sqrt(1 - ::pow(beta2, static_cast<double>(t_new))))};
    step(p[i], g[i], m[i], v[i]);
  }
};

struct Increment {
  float* t;
  __device__ void operator()(int) const { *t += 1.0f; }
};

}  // namespace

template <class T>
void launch_fill(T* p, int64_t n, T value, cudaStream_t stream) {
  if (n == 0) return;
  thrust::fill_n(on(stream), p, n, value);
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_sgd(T* p, const T* g, T* buf, const float* lr, double momentum, double weight_decay, bool nesterov,
                int64_t n, cudaStream_t stream) {
  if (n == 0) return;
  thrust::for_each_n(on(stream), thrust::counting_iterator<int64_t>(0), n,
                     SgdElement<T>{p, g, buf, lr, static_cast<T>(momentum), static_cast<T>(weight_decay), nesterov});
  DAGRAD_CUDA_LAUNCH_CHECK();
}

template <class T>
void launch_adam(T* p, const T* g, T* m, T* v, const float* lr, float* t, double beta1, double beta2, double eps,
                 double weight_decay, bool decoupled, int64_t n, cudaStream_t stream) {
  if (n > 0) {
    thrust::for_each_n(on(stream), thrust::counting_iterator<int64_t>(0), n,
                       AdamElement<T>{p, m, v, g, lr, t, beta1, beta2, static_cast<T>(eps),
                                      static_cast<T>(weight_decay), decoupled});
    DAGRAD_CUDA_LAUNCH_CHECK();
  }
  thrust::for_each_n(on(stream), thrust::counting_iterator<int>(0), 1, Increment{t});
  DAGRAD_CUDA_LAUNCH_CHECK();
}

// launch_fill for the element type of every dtype.
#define DAGRAD_INSTANTIATE_FILL(T) template void launch_fill<T>(T*, int64_t, T, cudaStream_t);
DAGRAD_INSTANTIATE_FILL(float) DAGRAD_INSTANTIATE_FILL(double) DAGRAD_INSTANTIATE_FILL(bfloat16)
DAGRAD_INSTANTIATE_FILL(float16) DAGRAD_INSTANTIATE_FILL(bool) DAGRAD_INSTANTIATE_FILL(int8_t)
DAGRAD_INSTANTIATE_FILL(int16_t) DAGRAD_INSTANTIATE_FILL(int32_t) DAGRAD_INSTANTIATE_FILL(int64_t)
DAGRAD_INSTANTIATE_FILL(uint8_t) DAGRAD_INSTANTIATE_FILL(uint16_t) DAGRAD_INSTANTIATE_FILL(uint32_t)
DAGRAD_INSTANTIATE_FILL(uint64_t)
#undef DAGRAD_INSTANTIATE_FILL

#define DAGRAD_INSTANTIATE(T)                                                                                  \
  template void launch_sgd<T>(T*, const T*, T*, const float*, double, double, bool, int64_t, cudaStream_t);   \
  template void launch_adam<T>(T*, const T*, T*, T*, const float*, float*, double, double, double, double, bool, \
                               int64_t, cudaStream_t);
DAGRAD_INSTANTIATE(float)
DAGRAD_INSTANTIATE(double)
#undef DAGRAD_INSTANTIATE

}  // namespace dagrad::cuda
