// Intel AMX (Advanced Matrix Extensions) for bfloat16 products: eight 1 KiB tile
// registers and TDPBF16PS, which multiplies a 16 x 32 bfloat16 tile by a 32 x 16 one into a
// 16 x 16 float32 tile (8,192 multiply-adds per instruction, against vdpbf16ps's 32).
// Operands come in pairs along k as for vdpbf16ps (ops/cpu/gemm_bf16.h): a row of an A tile
// is 16 words (k-pairs) of one output row, a row of a B tile 16 words of one k-pair, one per
// output column. Tile rows are loaded with a stride, at any byte address.
//
// Chosen at run time: available() is true when the CPU has AMX-BF16 (CPUID), Linux granted
// this process the tile state (arch_prctl ARCH_REQ_XCOMP_PERM), the bfloat16 kernels are
// not forced off (gemm_bf16::force_fallback) and AMX itself is not (force_off here, or
// DAGRAD_NO_AMX=1 at start-up). Without it the vdpbf16ps kernels run.
#pragma once
#include <algorithm>
#include <cstdint>

namespace dagrad::amx {

bool available();
bool cpu_has_amx();      // CPUID and the kernel's permission, whatever the switches
bool cpu_reports_amx();  // CPUID and XCR0 only
void force_off(bool on);

inline constexpr int kBlock = 32;  // a block: 2 x 2 tiles of 16 x 16 float32 results
inline constexpr int kPairs = 16;  // k-pairs per step (one tile's depth: 32 bfloat16 values)

// Loads the tile configuration this file's kernels use (every tile 16 rows of 64 bytes)
// on the calling thread; call it before block() on each thread, once per job.
void configure();

// c[32 x 32] (row stride ldc floats) = init + Σ_{s < steps} A_s · B_s, where
//   A_s row r (r < 32) is the 16 words at a + r*lda + 64*s bytes,
//   B_s row p (p < 16) is the 32 words at b + boff[s] + p*ldb bytes (columns 0..31),
//   init is zeros (init == nullptr) or the 32 x 32 floats at init (row stride ldinit; may be c).
// The block is whole: callers with fewer rows or columns pass zero operands (or any finite
// values whose products land in rows and columns they then drop) and a scratch c.
void block(int64_t steps, const char* a, int64_t lda, const char* b, const int64_t* boff, int64_t ldb, float* c,
           int64_t ldc, const float* init, int64_t ldinit);

// Writes the 32 x 32 block of c[rows, cols] (row stride ldc) at (r0, c0):
// compute(dst, ld, init, ldinit) runs block() into dst from init. A block inside c is
// computed in place (from c itself when accumulating, else from init_block, row stride
// 32); an edge block into `edge` (32 x 32 scratch), of which the part inside c is kept
// (added to c when accumulating).
template <class Compute>
void store_block(float* c, int64_t ldc, int64_t rows, int64_t cols, int64_t r0, int64_t c0, bool accumulate,
                 const float* init_block, float* edge, Compute&& compute) {
  float* at = c + r0 * ldc + c0;
  if (r0 + kBlock <= rows && c0 + kBlock <= cols) {
    compute(at, ldc, accumulate ? at : init_block, accumulate ? ldc : kBlock);
    return;
  }
  const int64_t nr = std::min<int64_t>(kBlock, rows - r0), nc = std::min<int64_t>(kBlock, cols - c0);
  compute(edge, kBlock, init_block, kBlock);
  for (int64_t r = 0; r < nr; ++r)
    for (int64_t j = 0; j < nc; ++j) at[r * ldc + j] = (accumulate ? at[r * ldc + j] : 0.f) + edge[r * kBlock + j];
}

// C = (accumulate ? C : 0) + op(A)·op(B), A and B bfloat16 (lda/ldb as stored), C float32,
// on the calling thread; as gemm_bf16::gemm, each C element sums its k in pairs, in order.
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
          const uint16_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);
// Whether gemm() is worth its packing for these sizes.
inline bool gemm_applies(int64_t m, int64_t n, int64_t k) { return m >= 16 && n >= 16 && k >= 32; }

}  // namespace dagrad::amx
