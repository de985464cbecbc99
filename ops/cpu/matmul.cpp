// matmul on the CPU: one GEMM call per (batch, row block, column block, k chunk) tile,
// float32 and float64 on ops/cpu/gemm.h, bfloat16 operands on vdpbf16ps (gemm_bf16.h)
// where the CPU has it, widened to float32 otherwise.
// The tiling depends only on the shapes, never on the thread count, so every output
// element is computed by the same calls in the same order whatever the number of
// threads (determinism). A long reduction with a small output (a linear layer's forward
// pass, [64,9216]·[9216,128]) is cut into fixed k chunks whose partial products are
// added in chunk order. A fused epilogue runs on each finished tile of whole rows.
#include "ops/cpu/matmul.h"

#include <algorithm>
#include <type_traits>

#include "ops/cpu/epilogue_piece.h"
#include "ops/cpu/gemm.h"
#include "ops/cpu/gemm_bf16.h"
#include "ops/cpu/gemm_engine.h"
#include "ops/cpu/operands.h"
#include "ops/cpu/reference_kernels.h"
#include "ops/params/linalg.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

using gemm_engine::ceil_div;
using gemm_engine::round_up;

struct Tiling {
  int64_t bm, bn, bk;  // tile rows, columns, k chunk
};

// Aims at kTargetTiles tiles of at least kMinTileFlops each. A long reduction (k well
// above m + n) is cut into k chunks first: that packs no operand twice. Then splitting the
// columns packs A again for every extra tile and splitting the rows packs B again, so
// the dimension whose other operand is smaller is split first.
Tiling plan_tiles(int64_t batch, int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kTargetTiles = 8;
  constexpr double kMinTileFlops = 4e6;
  const double flops = 2.0 * static_cast<double>(batch * m * n * k);
  const int64_t want = std::clamp<int64_t>(static_cast<int64_t>(flops / kMinTileFlops), 1, kTargetTiles);
  if (batch >= want) return Tiling{m, n, std::max<int64_t>(k, 1)};
  int64_t per_batch = ceil_div(want, batch);
  int64_t tk = 1, tm = 1, tn = 1;
  if (k >= 4 * (m + n)) {
    tk = std::min(per_batch, ceil_div(k, 1024));
    per_batch = ceil_div(per_batch, tk);
  }
  const int64_t row_tiles = ceil_div(m, gemm_engine::kMr), col_tiles = ceil_div(n, gemm_engine::kNr);
  if (m <= n) {
    tn = std::min(col_tiles, per_batch);
    tm = std::min(row_tiles, ceil_div(per_batch, tn));
  } else {
    tm = std::min(row_tiles, per_batch);
    tn = std::min(col_tiles, ceil_div(per_batch, tm));
  }
  return Tiling{round_up(ceil_div(m, tm), gemm_engine::kMr), round_up(ceil_div(n, tn), gemm_engine::kNr),
                std::max<int64_t>(1, ceil_div(k, tk))};
}

// In: the operands' element type; T: the result's (float32 for bfloat16 operands, whose
// tiles run on vdpbf16ps).
template <class In, class T>
void matmul_typed(const In* pa, const Shape& as, const In* pb, const Shape& bs, T* pc, const Shape& cs, bool trans_a,
                  bool trans_b, const Epilogue* epilogue) {
  int64_t m = cs.dim(-2), n = cs.dim(-1);
  int64_t k = trans_a ? as.dim(-2) : as.dim(-1);
  int64_t batch = cs.numel() / std::max<int64_t>(1, m * n);
  if (m * n == 0) return;
  bool shared_b = bs.rank() == 2 && batch > 1;
  // A shared b with an untransposed a is one tall GEMM: [batch*M, K] · [K, N].
  if (shared_b && !trans_a) {
    m *= batch;
    batch = 1;
  }
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const int64_t a_batch_stride = m * k, b_batch_stride = bs.rank() == 2 ? 0 : k * n, c_batch_stride = m * n;

  const Tiling t = plan_tiles(batch, m, n, k);
  const int64_t tiles_m = ceil_div(m, t.bm), tiles_n = ceil_div(n, t.bn), tiles_k = std::max<int64_t>(1, ceil_div(k, t.bk));
  // k chunks after the first write partial products of their own, summed in order below.
  T* partials = nullptr;
  if (tiles_k > 1)
    partials = reinterpret_cast<T*>(gemm_engine::thread_scratch().get(
        gemm_engine::Slot::partials, static_cast<size_t>((tiles_k - 1) * batch * m * n) * sizeof(T) / sizeof(float)));
  // A tile of whole rows of C is a contiguous range, final once its GEMM is done: the
  // epilogue runs on it while it is in cache (handed over from scratch when it consumes
  // pieces). With fewer such tiles than threads, the executor's whole pass is wider.
  const bool tile_epilogue = epilogue && tiles_n == 1 && tiles_k == 1 && batch * tiles_m >= num_threads();
  if (tile_epilogue) epilogue->applied = true;
  parallel_for(0, batch * tiles_m * tiles_n * tiles_k, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t tile = lo; tile < hi; ++tile) {
      const int64_t ki = tile % tiles_k, ni = tile / tiles_k % tiles_n, mi = tile / (tiles_k * tiles_n) % tiles_m;
      const int64_t bi = tile / (tiles_k * tiles_n * tiles_m);
      const int64_t m0 = mi * t.bm, n0 = ni * t.bn, k0 = ki * t.bk;
      const int64_t rows = std::min(t.bm, m - m0), cols = std::min(t.bn, n - n0), depth = std::min(t.bk, k - k0);
      // Rows of op(A) start at row m0 of A, or at column m0 when A is stored transposed;
      // likewise for the columns of op(B); chunk k0 moves along the other index.
      const In* a0 = pa + bi * a_batch_stride + (trans_a ? m0 + k0 * lda : m0 * lda + k0);
      const In* b0 = pb + bi * b_batch_stride + (trans_b ? n0 * ldb + k0 : k0 * ldb + n0);
      T* c0 = ki == 0 ? pc + bi * c_batch_stride : partials + ((ki - 1) * batch + bi) * m * n;
      T* dst = piece_destination(tile_epilogue ? epilogue : nullptr, c0 + m0 * n + n0, rows * n);
      if constexpr (std::is_same_v<In, uint16_t>)
        gemm_bf16::gemm(trans_a, trans_b, rows, cols, depth, a0, lda, b0, ldb, dst, n, false);
      else
        gemm<T>(trans_a, trans_b, rows, cols, depth, T(1), a0, lda, b0, ldb, T(0), dst, n);
      if (tile_epilogue) epilogue->run(bi * c_batch_stride + m0 * n, bi * c_batch_stride + (m0 + rows) * n);
    }
  });
  if (tiles_k == 1) return;
  const int64_t total = batch * m * n;
  parallel_for(0, total, 16384, [&](int64_t lo, int64_t hi) {
    for (int64_t ki = 1; ki < tiles_k; ++ki) {
      const T* p = partials + (ki - 1) * total;
      for (int64_t i = lo; i < hi; ++i) pc[i] += p[i];
    }
  });
}

}  // namespace

void matmul_cpu(const KernelContext& ctx) {
  const MatmulParams& p = ctx.params<MatmulParams>();
  const Tensor &a = ctx.inputs[0], &b = ctx.inputs[1];
  Tensor& c = ctx.outputs[0];
  if (a.dtype() == DType::bf16 && gemm_bf16::available() && !reference_kernels()) {
    matmul_typed(reinterpret_cast<const uint16_t*>(a.raw_data()), a.shape(),
                 reinterpret_cast<const uint16_t*>(b.raw_data()), b.shape(), c.data<float>(), c.shape(), p.trans_a,
                 p.trans_b, ctx.epilogue);
    return;
  }
  if (is_half(a.dtype())) {  // the fallback: products of 16-bit values are exact in float32
    matmul_typed(float32_operand(a, gemm_engine::Slot::widen_a), a.shape(),
                 float32_operand(b, gemm_engine::Slot::widen_b), b.shape(), c.data<float>(), c.shape(), p.trans_a,
                 p.trans_b, ctx.epilogue);
    return;
  }
  dispatch_floating(c.dtype(), "matmul", [&]<class T>() {
    matmul_typed(a.data<T>(), a.shape(), b.data<T>(), b.shape(), c.data<T>(), c.shape(), p.trans_a, p.trans_b,
                 ctx.epilogue);
  });
}

}  // namespace dagrad
