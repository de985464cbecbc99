// Transposes of 32-bit elements (floats, or pairs of bfloat16 packed in a word), for the
// packers that turn a channel-major tensor into pixel-major GEMM panels. 16 x 16 blocks go
// through AVX-512 shuffles when the CPU has AVX-512 (checked at run time); the rest, and
// other CPUs, element by element.
#pragma once
#include <cstdint>

namespace dagrad {

// dst[c * ds + r] = src[r * ss + c] for r < rows, c < cols.
void transpose_32bit(const uint32_t* src, int64_t ss, int64_t rows, int64_t cols, uint32_t* dst, int64_t ds);

}  // namespace dagrad
