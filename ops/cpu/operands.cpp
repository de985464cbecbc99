#include "ops/cpu/operands.h"

#include "ops/cpu/cast.h"
#include "runtime/thread_pool.h"

namespace dagrad {

const float* float32_operand(const Tensor& t, gemm_engine::Slot slot) {
  if (t.dtype() == DType::f32) return t.data<float>();
  float* dst = gemm_engine::thread_scratch().get(slot, static_cast<size_t>(t.numel()));
  const char* src = static_cast<const char*>(t.raw_data());
  const DType from = t.dtype();
  const int64_t size = static_cast<int64_t>(dtype_size(from));
  parallel_for(0, t.numel(), 16384, [&](int64_t lo, int64_t hi) {
    convert_elements(src + lo * size, from, dst + lo, DType::f32, hi - lo);
  });
  return dst;
}

}  // namespace dagrad
