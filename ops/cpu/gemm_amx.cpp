// The AMX GEMM (amx::gemm): both operands packed whole into k-pair words, A as rows of
// k-pairs ([m padded to 32, kp]), B as rows of columns ([kp, n padded to 32]), kp padded
// to whole tile steps with zeros; then 32 x 32 blocks over the full depth.
#include <algorithm>
#include <cstring>

#include "ops/cpu/amx.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/transpose.h"

namespace dagrad::amx {

namespace {

namespace ge = gemm_engine;
using gemm_bf16::pair_word;

// dst[i, p] = (x[i, 2p], x[i, 2p+1]) for i < rows (x's rows ld apart), p < kp (row stride
// kp); zero past depth and in rows [rows, rows_pad).
void pack_rows(const uint16_t* x, int64_t ld, int64_t rows, int64_t rows_pad, int64_t depth, int64_t kp,
               uint32_t* dst) {
  for (int64_t i = 0; i < rows_pad; ++i) {
    uint32_t* d = dst + i * kp;
    std::fill(d, d + kp, 0u);
    if (i < rows) std::memcpy(d, x + i * ld, static_cast<size_t>(depth) * 2);
  }
}

// dst[p, j] = (x[2p, j], x[2p+1, j]) for p < kp, j < cols (x's rows ld apart, dst's
// cols_pad); zero for rows past depth and in columns [cols, cols_pad).
void pack_interleaved(const uint16_t* x, int64_t ld, int64_t depth, int64_t cols, int64_t cols_pad, int64_t kp,
                      uint32_t* dst) {
  for (int64_t p = 0; p < kp; ++p) {
    uint32_t* d = dst + p * cols_pad;
    const uint16_t* lo = x + 2 * p * ld;
    const uint16_t* hi = lo + ld;
    if (2 * p + 1 < depth) {
      for (int64_t j = 0; j < cols; ++j) d[j] = pair_word(lo[j], hi[j]);
    } else if (2 * p < depth) {
      for (int64_t j = 0; j < cols; ++j) d[j] = lo[j];
    } else {
      std::fill(d, d + cols, 0u);
    }
    std::fill(d + cols, d + cols_pad, 0u);
  }
}

}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
          const uint16_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  const int64_t steps = ge::ceil_div(ge::ceil_div(k, 2), kPairs), kp = steps * kPairs;
  const int64_t m_pad = ge::round_up(m, kBlock), n_pad = ge::round_up(n, kBlock);
  ge::Scratch& s = ge::thread_scratch();
  uint32_t* ap = reinterpret_cast<uint32_t*>(s.get(ge::Slot::pack_a, m_pad * kp));
  // A transposed operand's words before their transpose, B's words, then the step offsets.
  float* bslot = s.get(ge::Slot::pack_b, std::max(m_pad, n_pad) * kp + n_pad * kp + 2 * steps);
  uint32_t* b_cols = reinterpret_cast<uint32_t*>(bslot);
  uint32_t* bp = b_cols + std::max(m_pad, n_pad) * kp;
  int64_t* boff = reinterpret_cast<int64_t*>(bp + n_pad * kp);
  // A(i, k) = a[i*lda + k], or a[k*lda + i] stored transposed; B(k, j) likewise.
  if (trans_a) {
    pack_interleaved(a, lda, k, m, m_pad, kp, b_cols);
    transpose_32bit(b_cols, m_pad, kp, m_pad, ap, kp);
  } else {
    pack_rows(a, lda, m, m_pad, k, kp, ap);
  }
  if (trans_b) {
    pack_rows(b, ldb, n, n_pad, k, kp, b_cols);
    transpose_32bit(b_cols, kp, n_pad, kp, bp, n_pad);
  } else {
    pack_interleaved(b, ldb, k, n, n_pad, kp, bp);
  }
  for (int64_t st = 0; st < steps; ++st) boff[st] = 4 * st * kPairs * n_pad;
  alignas(64) float edge[kBlock * kBlock];
  configure();
  const char* a_bytes = reinterpret_cast<const char*>(ap);
  const char* b_bytes = reinterpret_cast<const char*>(bp);
  for (int64_t j0 = 0; j0 < n; j0 += kBlock)
    for (int64_t i0 = 0; i0 < m; i0 += kBlock)
      store_block(c, ldc, m, n, i0, j0, accumulate, nullptr, edge,
                  [&](float* dst, int64_t ld, const float* init, int64_t ldi) {
                    block(steps, a_bytes + 4 * i0 * kp, 4 * kp, b_bytes + 4 * j0, boff, 4 * n_pad, dst, ld, init, ldi);
                  });
}

}  // namespace dagrad::amx
