// dagrad's own single-precision GEMM: the BLIS loop nest around one register-blocked
// micro-kernel. Operands reach the kernel only through packers, callables that copy a
// block of A or B into the panel layout the kernel streams, so a convolution packs its
// image patches straight from the image (implicit im2col) and never builds a column
// matrix. Scratch panels are per thread and reused: no allocation once warm.
//
// Panel layouts (kc = the k-block length):
//   A: rows in panels of kMr; a panel is kc groups of kMr values (row r of step k at k*kMr + r),
//      rows past the matrix zero-filled;
//   B: columns in panels of width w (kNr, or the tail rounded up to kLanes); a panel is kc
//      groups of w values, columns past the matrix zero-filled.
// Every C element is summed over k in the same order whatever the caller's blocking of M
// and N, so tiling the output differently never changes a result.
#pragma once
#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace dagrad::gemm_engine {

#if defined(__AVX512F__)
inline constexpr int kLanes = 16;  // floats per vector register
inline constexpr int kMr = 8;      // 8x48 tile: 24 accumulators of 32 registers
#else
inline constexpr int kLanes = 8;
inline constexpr int kMr = 4;  // 4x24: 12 accumulators of 16 registers
#endif
inline constexpr int kNr = 3 * kLanes;
inline constexpr int64_t kMaxKc = 320;  // a B micro-panel (kc x kNr) stays near L1
inline constexpr int64_t kMaxNc = 576;  // a packed B block (kc x nc) stays in L2
inline constexpr int64_t kMaxMc = 256;

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Width of the B panel holding the `cols_left` columns that remain: full, or rounded up
// to whole vectors (so a 9-column product is not padded to 48).
inline int panel_width(int64_t cols_left) {
  return cols_left >= kNr ? kNr : static_cast<int>(round_up(cols_left, kLanes));
}

// C[mr, nr] (row stride ldc) = (accumulate ? C : 0) + (bias ? bias[r] : 0) + Ap·Bp over kc
// steps; ap is one A panel, bp one B panel of width w. Rows >= mr and columns >= nr of the
// tile are computed but not stored.
void micro_kernel(int w, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr, int nr,
                  bool accumulate, const float* bias);

// The same tile product with one operand read in place instead of packed (convolutions
// over a padded image, whose patches are the image shifted by a tap offset):
//   direct_b: B(k, j) = b[koff[k] + j], A packed;
//   direct_a: A(k, r) = a_rows[r][k] (kMr row pointers; rows >= mr may repeat one), B packed.
// Reads may run up to a panel width past the last column or step: callers keep slack there.
void micro_kernel_direct_b(int w, int64_t kc, const float* ap, const float* b, const int32_t* koff, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate, const float* bias);
void micro_kernel_direct_a(int w, int64_t kc, const float* const* a_rows, const float* bp, float* c, int64_t ldc,
                           int mr, int nr, bool accumulate);

// Per-thread buffers, grown on demand and kept (64-byte aligned): once warm, no kernel
// allocates. run() uses pack_a and pack_b; callers use the others (a kernel's calling
// thread fills `shared` for its pool pieces, which use their own image and output).
enum class Slot { pack_a, pack_b, image, output, shared, partials, widen_a, widen_b, count };
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch();
  float* get(Slot slot, size_t floats);
  // Grows every slot to the largest size any thread has asked of it.
  void catch_up();

 private:
  struct Buf {
    float* p = nullptr;
    size_t n = 0;
  };
  Buf bufs_[static_cast<int>(Slot::count)];
};
Scratch& thread_scratch();

// Generic strided packers: A(i, k) = a[i*rs + k*cs], B(k, j) = b[k*rs + j*cs].
// pack_a_panel writes one A panel of `mr` rows; pack_b_panel one B panel of `nr` columns.
void pack_a_panel(const float* a, int64_t rs, int64_t cs, int mr, int64_t kc, float* dst);
void pack_b_panel(const float* b, int64_t rs, int64_t cs, int64_t kc, int nr, int w, float* dst);

struct Problem {
  int64_t m = 0, n = 0, k = 0;
  // K blocks never straddle a multiple of k_period (0: K). Packers that walk several
  // images along K (weight gradients) then see one image per block.
  int64_t k_period = 0;
};

// C[m, n] (row stride ldc) = (accumulate ? C : 0) + row_bias + A·B, with
//   pack_a(i0, mr, k0, kc, dst): one A panel, rows [i0, i0+mr), steps [k0, k0+kc);
//   pack_b(k0, kc, j0, nr, w, dst): one B panel, columns [j0, j0+nr), width w.
// Runs on the calling thread; callers parallelise over independent problems or tiles.
template <class PackA, class PackB>
void run(const Problem& p, PackA&& pack_a, PackB&& pack_b, float* c, int64_t ldc, bool accumulate,
         const float* row_bias = nullptr) {
  if (p.m <= 0 || p.n <= 0) return;
  if (p.k <= 0) {
    for (int64_t i = 0; i < p.m; ++i)
      for (int64_t j = 0; j < p.n; ++j)
        c[i * ldc + j] = (accumulate ? c[i * ldc + j] : 0.f) + (row_bias ? row_bias[i] : 0.f);
    return;
  }
  const int64_t period = p.k_period > 0 ? std::min(p.k_period, p.k) : p.k;
  const int64_t kc_max = ceil_div(period, ceil_div(period, kMaxKc));
  const int64_t nc_max = round_up(ceil_div(p.n, ceil_div(p.n, kMaxNc)), kNr);
  const int64_t mc_max = round_up(ceil_div(p.m, ceil_div(p.m, kMaxMc)), kMr);
  Scratch& s = thread_scratch();
  float* ap = s.get(Slot::pack_a, static_cast<size_t>(mc_max * kc_max));
  float* bp = s.get(Slot::pack_b, static_cast<size_t>(round_up(nc_max, kNr) * kc_max));
  for (int64_t jc = 0; jc < p.n; jc += nc_max) {
    const int64_t nc = std::min(nc_max, p.n - jc);
    for (int64_t pc = 0; pc < p.k;) {
      const int64_t kc = std::min({kc_max, p.k - pc, period - pc % period});
      const bool acc = accumulate || pc > 0;
      const float* bias = pc == 0 && !accumulate ? row_bias : nullptr;
      for (int64_t jr = 0; jr < nc;) {
        const int w = panel_width(nc - jr);
        pack_b(pc, kc, jc + jr, static_cast<int>(std::min<int64_t>(w, nc - jr)), w, bp + jr * kc);
        jr += w;
      }
      for (int64_t ic = 0; ic < p.m; ic += mc_max) {
        const int64_t mc = std::min(mc_max, p.m - ic);
        for (int64_t ir = 0; ir < mc; ir += kMr)
          pack_a(ic + ir, static_cast<int>(std::min<int64_t>(kMr, mc - ir)), pc, kc, ap + ir * kc);
        for (int64_t jr = 0; jr < nc;) {
          const int w = panel_width(nc - jr);
          const int nr = static_cast<int>(std::min<int64_t>(w, nc - jr));
          for (int64_t ir = 0; ir < mc; ir += kMr) {
            const int mr = static_cast<int>(std::min<int64_t>(kMr, mc - ir));
            micro_kernel(w, kc, ap + ir * kc, bp + jr * kc, c + (ic + ir) * ldc + jc + jr, ldc, mr, nr, acc,
                         bias ? bias + ic + ir : nullptr);
          }
          jr += w;
        }
      }
      pc += kc;
    }
  }
}

// C = (accumulate ? C : 0) + op(A)·op(B) for strided row-major operands (lda/ldb as stored).
void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float* c, int64_t ldc, bool accumulate);

}  // namespace dagrad::gemm_engine
