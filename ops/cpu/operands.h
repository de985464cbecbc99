// The float32 values of a GEMM or convolution operand, for the kernels that multiply in
// float32: a float32 tensor as it is; bfloat16 and float16 operands widened (exactly) into
// the calling thread's scratch slot, reused from call to call (no allocation once warm).
#pragma once
#include "ops/cpu/gemm_engine.h"
#include "runtime/tensor.h"

namespace dagrad {

const float* float32_operand(const Tensor& t, gemm_engine::Slot slot);

}  // namespace dagrad
