// bfloat16 products with float32 accumulation on the CPU: the GEMM engine's loop nest and
// register tile (ops/cpu/gemm_engine.h) around AVX512_BF16's vdpbf16ps, which multiplies
// pairs of bfloat16 values and adds both products to a float32 lane (32 multiply-adds per
// instruction against float32 FMA's 16). Operands are pairs along k: a packed A panel is
// kc/2 groups of kMr 32-bit words (row r's values k and k+1), a B panel kc/2 groups of w
// words (column j's values k and k+1); an odd k is padded with a zero.
//
// Chosen at run time: available() is true when the CPU has AVX512_BF16 (CPUID) and the
// fallback is not forced (gemm() and the stride-1 convolutions then run on AMX tiles
// where amx::available(), ops/cpu/amx.h); otherwise callers widen the operands to float32 (exact) and use
// the float32 kernels (ops/cpu/operands.h). The kernels are compiled for AVX512_BF16
// whatever the build's -march, and only called after that check.
#pragma once
#include <cstdint>

#include "ops/cpu/gemm_engine.h"
#include "ops/op_def.h"
#include "ops/params/conv.h"

namespace dagrad::gemm_bf16 {

// The CPU has AVX512_BF16 and the fallback is not forced.
bool available();
bool cpu_has_avx512_bf16();
// Forces the float32 fallback (tests; also DAGRAD_NO_BF16_KERNELS=1 at start-up).
void force_fallback(bool on);
// Whether the products take the vdpbf16ps kernels where AMX does not run: available(), and
// not an Intel CPU. Intel cores issue vdpbf16ps on one port against FMA's two, so it does
// no more multiply-adds than float32 and loses to the float32 kernels (Winograd's F(4x4)
// does a quarter of them): measured 2.2x slower on conv2's gradients and 1.3x on fc1's
// GEMMs, bench/NOTES.md. There the operands are widened to float32 image by image or panel
// by panel. AMD's Zen 4 issues vdpbf16ps at FMA's rate: twice the multiply-adds.
bool vdpbf16ps_pays();
// Takes the vdpbf16ps kernels on any CPU with AVX512_BF16, also for the convolutions float32
// Winograd would take (tests and `dagrad bench --conv`: to check and time them on every such
// CPU).
void force_vdpbf16ps(bool on);
bool vdpbf16ps_forced();
// Where bfloat16 products run now, for reports: "AMX tiles", "AVX512_BF16 vdpbf16ps" or
// "the float32 kernels, widened".
const char* kernels_name();

inline constexpr int kLanes = 16;  // float32 lanes of a zmm register
inline constexpr int kMr = 8;      // 8 x 48 register tile, as float32's
inline constexpr int kNr = 3 * kLanes;
inline constexpr int64_t kMaxKcPairs = 192;  // a B micro-panel (kc x kNr words) stays near L1
inline constexpr int64_t kMaxNc = 576;
inline constexpr int64_t kMaxMc = 256;

// The 32-bit word holding a pair of bfloat16 values, lo in the low half (k, then k + 1).
inline uint32_t pair_word(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | static_cast<uint32_t>(hi) << 16; }

inline int panel_width(int64_t cols_left) {
  return cols_left >= kNr ? kNr : static_cast<int>(gemm_engine::round_up(cols_left, kLanes));
}

// The tile products, as gemm_engine's, over kp pairs of k:
//   micro_kernel:          A and B packed;
//   micro_kernel_direct_b: B(p, j) = b[koff[p] + j] (words read in place), A packed;
//   micro_kernel_direct_a: A(p, r) = the word at a_rows[r] + 2p (bfloat16 row pointers), B packed.
// C[mr, nr] (row stride ldc) = (accumulate ? C : 0) + (bias ? bias[r] : 0) + A·B.
void micro_kernel(int w, int64_t kp, const uint32_t* ap, const uint32_t* bp, float* c, int64_t ldc, int mr, int nr,
                  bool accumulate, const float* bias);
void micro_kernel_direct_b(int w, int64_t kp, const uint32_t* ap, const uint32_t* b, const int32_t* koff, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate, const float* bias);
void micro_kernel_direct_a(int w, int64_t kp, const uint16_t* const* a_rows, const uint32_t* bp, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate);

// C = (accumulate ? C : 0) + op(A)·op(B), A and B bfloat16 (lda/ldb as stored), C float32;
// on the calling thread. Every C element sums its k in pairs, in order (on vdpbf16ps), or
// as the float32 GEMM does on the widened operands (where vdpbf16ps does not pay).
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const uint16_t* a, int64_t lda,
          const uint16_t* b, int64_t ldb, float* c, int64_t ldc, bool accumulate);

// The convolutions of ops/cpu/conv_f32.h with bfloat16 operands and float32 results:
// stride 1 direct (operand pairs along channels, or along pixels for the weight
// gradient), other strides by widening the image. Work is split over whole images and
// weight-gradient groups, so no result depends on the thread count. Callable whatever
// available() says: without AMX or a paying vdpbf16ps they run the float32 kernels on
// activations widened image by image (conv2d_*_f32's bfloat16 overloads).
void conv2d_forward(const ConvGeom& g, const uint16_t* x, const uint16_t* w, const float* bias, float* y,
                    const Epilogue* epilogue = nullptr);
void conv2d_input_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* w, float* dx,
                       const Epilogue* epilogue = nullptr);
void conv2d_weight_grad(const ConvGeom& g, const uint16_t* dy, const uint16_t* x, float* dw);

}  // namespace dagrad::gemm_bf16
