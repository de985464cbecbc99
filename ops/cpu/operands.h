// The float32 values of a GEMM or convolution operand, for the kernels that multiply in
// float32: a float32 tensor as it is; bfloat16 and float16 operands widened (exactly) into
// the calling thread's scratch slot, reused from call to call (no allocation once warm).
#pragma once
#include <cstdint>
#include <type_traits>

#include "ops/cpu/gemm_engine.h"
#include "runtime/float16.h"
#include "runtime/tensor.h"

namespace dagrad {

const float* float32_operand(const Tensor& t, gemm_engine::Slot slot);

// One image of n values as float32, for kernels that widen bfloat16 image by image: src
// itself, or its bfloat16 bits (uint16_t) widened exactly into `wide`.
template <class T>
const float* widened(const T* src, int64_t n, float* wide) {
  if constexpr (std::is_same_v<T, float>) {
    return src;
  } else {
    for (int64_t i = 0; i < n; ++i) wide[i] = bf16_bits_to_float(src[i]);
    return wide;
  }
}

}  // namespace dagrad
