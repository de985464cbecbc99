#include "ops/cpu/operands.h"

#include "ops/cpu/cast.h"
#include "runtime/thread_pool.h"

namespace dagrad {

const float* float32_operand(const Tensor& t, gemm_engine::Slot slot) {
  return float32_operand(t.raw_data(), t.dtype(), t.numel(), slot);
}

const float* float32_operand(const void* data, DType dtype, int64_t numel, gemm_engine::Slot slot) {
  if (dtype == DType::f32) return static_cast<const float*>(data);
  float* dst = gemm_engine::thread_scratch().get(slot, static_cast<size_t>(numel));
  const char* src = static_cast<const char*>(data);
  const int64_t size = static_cast<int64_t>(dtype_size(dtype));
  parallel_for(0, numel, 16384, [&](int64_t lo, int64_t hi) {
    convert_elements(src + lo * size, dtype, dst + lo, DType::f32, hi - lo);
  });
  return dst;
}

}  // namespace dagrad
