// CPU kernel of cast (ops/defs/cast_ops.cpp), and the conversion loop it runs, which the
// elementwise launcher shares for 16-bit inputs and outputs.
#pragma once
#include <cstdint>

#include "ops/op_def.h"

namespace dagrad {

void cast_cpu(const KernelContext& ctx);

// dst[i] = convert<to>(src[i]) for n elements, on the calling thread.
void convert_elements(const void* src, DType from, void* dst, DType to, int64_t n);

}  // namespace dagrad
