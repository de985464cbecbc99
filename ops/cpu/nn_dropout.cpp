// Inverted dropout. The mask is a pure function of (seed, run step, element index)
// (ops/nn_math.h), so the vjp and the CUDA backend regenerate it exactly. The index
// starts at the "offset" attribute: a data-parallel rank's batch continues the global
// batch's indices, so its masks are those one process would draw at the global batch.
#include <algorithm>
#include <cstring>

#include "ops/cpu/nn_kernels.h"
#include "ops/nn_math.h"
#include "ops/params/nn.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// y = x·scale where kept, else x·0 (branch-free, so it vectorises; as PyTorch's
// x·mask·scale, a NaN stays NaN). x and y may be the same buffer (in place).
template <class T>
void apply_mask(const T* x, T* y, const uint32_t* __restrict bits, int64_t len, uint32_t threshold, T scale) {
  for (int64_t i = 0; i < len; ++i) y[i] = x[i] * (dropout_keep_bits(bits[i], threshold) ? scale : T(0));
}

}  // namespace

void dropout_cpu(const KernelContext& ctx) {
  const DropoutParams& params = ctx.params<DropoutParams>();
  const double p = params.p;
  const bool training = params.training;
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  const int64_t n = x.numel();
  if (!training || p == 0.0) {
    if (x.raw_data() != y.raw_data() && n > 0) std::memcpy(y.raw_data(), x.raw_data(), x.nbytes());
    return;
  }
  const uint64_t seed = dropout_step_seed(static_cast<uint64_t>(params.seed), ctx.step);
  const uint32_t threshold = dropout_threshold(p);
  const uint64_t offset = static_cast<uint64_t>(params.offset);
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  dispatch_floating(x.dtype(), "dropout", [&]<class T>() {
    const T* in = x.data<T>();
    T* out = y.data<T>();
    const T scale = static_cast<T>(1.0 / (1.0 - p));
    // One Philox call yields the bits of 4 consecutive elements (random_bits' counter is
    // index / 4, its lane index % 4). Bits for a block of groups are drawn first and the
    // mask applied after: two simple loops the compiler vectorises (~6x faster than
    // masking inside the Philox loop).
    constexpr int64_t kBlock = 64;  // groups of 4 elements
    const int64_t groups = offset % 4 == 0 ? n / 4 : 0;  // an unaligned offset takes the scalar loop
    const uint64_t group0 = offset / 4;
    parallel_for(0, groups, 2048, [&, k0, k1, threshold, scale, group0](int64_t lo, int64_t hi) {
      alignas(64) uint32_t bits[kBlock * 4];
      for (int64_t g0 = lo; g0 < hi; g0 += kBlock) {
        const int64_t ng = std::min(kBlock, hi - g0);
        for (int64_t q = 0; q < ng; ++q) {
          const uint64_t ctr = group0 + static_cast<uint64_t>(g0 + q);
          const U32x4 r =
              philox4x32_10(U32x4{{static_cast<uint32_t>(ctr), static_cast<uint32_t>(ctr >> 32), 0u, 0u}}, k0, k1);
          for (int j = 0; j < 4; ++j) bits[4 * q + j] = r.v[j];
        }
        apply_mask(in + 4 * g0, out + 4 * g0, bits, 4 * ng, threshold, scale);
      }
    });
    for (int64_t i = 4 * groups; i < n; ++i)  // the last partial group
      out[i] = in[i] * (dropout_keep(seed, offset + static_cast<uint64_t>(i), threshold) ? scale : T(0));
  });
}

}  // namespace dagrad
