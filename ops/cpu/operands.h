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
const float* float32_operand(const void* data, DType dtype, int64_t numel, gemm_engine::Slot slot);

// Kernels that widen bfloat16 image by image: the calling thread's room for one image of n
// values (none when T is float32, which is read in place), and that image as float32: src
// itself, or its bfloat16 bits (uint16_t) widened exactly into `wide`.
template <class T>
float* widen_buffer(gemm_engine::Slot slot, int64_t n) {
  if constexpr (std::is_same_v<T, float>) return nullptr;
  return gemm_engine::thread_scratch().get(slot, static_cast<size_t>(n));
}

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
