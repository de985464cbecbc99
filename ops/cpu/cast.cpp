#include "ops/cpu/cast.h"

#include <immintrin.h>

#include <cstring>

#include "ops/cpu/gemm_bf16.h"
#include "runtime/convert.h"
#include "runtime/float16.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

// float32 to bfloat16 with AVX512_BF16's vcvtneps2bf16: round to nearest even and NaNs
// quieted as float_to_bf16_bits does, 16 at a time, 2.4x the compiled loop's rate in cache
// (bench/NOTES.md, stop 33). The instruction flushes subnormal inputs to zero, so a block
// holding one takes the scalar conversion: the bits always equal float_to_bf16_bits'.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16"))) void narrow_to_bf16(const float* src,
                                                                                         uint16_t* dst, int64_t n) {
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 v = _mm512_loadu_ps(src + i);
    if (_mm512_fpclass_ps_mask(v, 0x20) != 0) {  // 0x20: subnormal
      for (int k = 0; k < 16; ++k) dst[i + k] = float_to_bf16_bits(src[i + k]);
      continue;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), reinterpret_cast<__m256i>(_mm512_cvtneps_pbh(v)));
  }
  for (; i < n; ++i) dst[i] = float_to_bf16_bits(src[i]);
}

}  // namespace

void convert_elements(const void* src, DType from, void* dst, DType to, int64_t n) {
  if (from == to) {
    std::memcpy(dst, src, static_cast<size_t>(n) * dtype_size(to));
    return;
  }
  if (from == DType::f32 && to == DType::bf16 && gemm_bf16::cpu_has_avx512_bf16()) {
    narrow_to_bf16(static_cast<const float*>(src), static_cast<uint16_t*>(dst), n);
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
