#include "ops/cpu/cast.h"

#include <cstring>

#include "runtime/convert.h"
#include "runtime/thread_pool.h"

namespace dagrad {

void convert_elements(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == to) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(to));
    return;
  }
  dispatch_all(from, [&]<class S>() {
    const S* s = static_cast<const S*>(src);
    dispatch_all(to, [&]<class D>() {
      D* d = static_cast<D*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = convert<D>(s[i]);
    });
  });
}

void cast_cpu(const KernelContext& ctx) {
  const Tensor& x = ctx.inputs[0];
  Tensor& y = ctx.outputs[0];
  const DType from = x.dtype(), to = y.dtype();
  const size_t in_size = dtype_size(from), out_size = dtype_size(to);
  const char* src = static_cast<const char*>(x.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  parallel_for(0, x.numel(), 16384, [&](int64_t lo, int64_t hi) {
    convert_elements(src + lo * in_size, from, dst + lo * out_size, to, hi - lo);
  });
}

}  // namespace dagrad
