#include "runtime/rng.h"

#include "runtime/tensor.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {
template <class Draw>
void fill_with(Tensor& t, Generator& gen, const char* who, Draw draw) {
  if (!t.device().is_cpu()) throw DeviceError(str_cat(who, ": only CPU tensors"));
  uint64_t start = gen.take(static_cast<uint64_t>(t.numel()));
  uint64_t seed = gen.seed();
  dispatch_floating(t.dtype(), who, [&]<class T>() {
    T* p = t.data<T>();
    parallel_for(0, t.numel(), 4096, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) p[i] = static_cast<T>(draw(seed, start + i));
    });
  });
}
}  // namespace

void fill_uniform(Tensor& t, Generator& gen, double lo, double hi) {
  fill_with(t, gen, "fill_uniform", [=](uint64_t s, uint64_t i) {
    return lo + (hi - lo) * static_cast<double>(random_uniform(s, i));
  });
}

void fill_normal(Tensor& t, Generator& gen, double mean, double stddev) {
  fill_with(t, gen, "fill_normal", [=](uint64_t s, uint64_t i) {
    return mean + stddev * static_cast<double>(random_normal(s, i));
  });
}

}  // namespace dagrad
