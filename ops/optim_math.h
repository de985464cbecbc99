// Per-element optimizer updates, shared by the CPU kernels and (through nvcc) the CUDA
// ones. They follow torch.optim.SGD and torch.optim.Adam/AdamW exactly (SGD's first
// momentum step equals PyTorch's because the buffer starts at zero and dampening is 0).
#pragma once
#include <cmath>

#include "runtime/hostdev.h"

namespace dagrad {

template <class T>
DAGRAD_HD T optim_sqrt(T x) {
#if defined(__CUDA_ARCH__)
  return sqrt(x);  // CUDA overloads float and double
#else
  return std::sqrt(x);
#endif
}

template <class T>
struct SgdStep {
  T lr, momentum, weight_decay;
  bool nesterov;
  // buf may be null when momentum == 0.
  DAGRAD_HD void operator()(T& p, T g, T* buf) const {
    if (weight_decay != T(0)) g += weight_decay * p;
    if (buf) {
      *buf = momentum * *buf + g;
      g = nesterov ? g + momentum * *buf : *buf;
    }
    p -= lr * g;
  }
};

template <class T>
struct AdamStep {
  T lr, beta1, beta2, eps, weight_decay;
  bool decoupled;
  T bias_correction1, bias_correction2_sqrt;  // 1 - beta1^t, sqrt(1 - beta2^t) for the new t
  DAGRAD_HD void operator()(T& p, T g, T& m, T& v) const {
    if (weight_decay != T(0)) {
      if (decoupled) p *= T(1) - lr * weight_decay;
      else g += weight_decay * p;
    }
    m = beta1 * m + (T(1) - beta1) * g;
    v = beta2 * v + (T(1) - beta2) * g * g;
    T denom = optim_sqrt(v) / bias_correction2_sqrt + eps;
    p -= (lr / bias_correction1) * m / denom;
  }
};

}  // namespace dagrad
