// matmul on the CPU: one BLAS call per (batch, row block, column block) tile. The tiling
// depends only on the shapes, never on the thread count, so every output element is
// computed by the same BLAS call whatever the number of threads (determinism).
#include "ops/cpu/matmul.h"

#include <algorithm>

#include "ops/cpu/gemm.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

struct Tiling {
  int64_t bm, bn;  // tile rows, tile columns
};

// Splits the larger side in halves (multiples of 16 rows/columns, for BLAS micro-kernels)
// until there are enough tiles to feed any pool, or a tile would be too small to be
// worth a call.
Tiling plan_tiles(int64_t batch, int64_t m, int64_t n, int64_t k) {
  constexpr int64_t kEnoughTiles = 64;
  constexpr double kMinTileFlops = 2e6;
  Tiling t{m, n};
  while (batch * ceil_div(m, t.bm) * ceil_div(n, t.bn) < kEnoughTiles && 2.0 * t.bm * t.bn * k >= 2 * kMinTileFlops) {
    if (t.bm >= t.bn && t.bm > 32)
      t.bm = round_up(ceil_div(t.bm, 2), 16);
    else if (t.bn > 32)
      t.bn = round_up(ceil_div(t.bn, 2), 16);
    else
      break;
  }
  return t;
}

template <class T>
void matmul_typed(const Tensor& a, const Tensor& b, Tensor& c, bool trans_a, bool trans_b) {
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  int64_t m = c.shape().dim(-2), n = c.shape().dim(-1);
  int64_t k = trans_a ? as.dim(-2) : as.dim(-1);
  int64_t batch = c.numel() / std::max<int64_t>(1, m * n);
  if (m * n == 0) return;
  bool shared_b = bs.rank() == 2 && batch > 1;
  // A shared b with an untransposed a is one tall GEMM: [batch*M, K] · [K, N].
  if (shared_b && !trans_a) {
    m *= batch;
    batch = 1;
  }
  const int64_t lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const int64_t a_batch_stride = m * k, b_batch_stride = bs.rank() == 2 ? 0 : k * n, c_batch_stride = m * n;
  const T* pa = a.data<T>();
  const T* pb = b.data<T>();
  T* pc = c.data<T>();

  Tiling t = plan_tiles(batch, m, n, k);
  const int64_t tiles_m = ceil_div(m, t.bm), tiles_n = ceil_div(n, t.bn);
  parallel_for(0, batch * tiles_m * tiles_n, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t tile = lo; tile < hi; ++tile) {
      int64_t bi = tile / (tiles_m * tiles_n), mi = tile / tiles_n % tiles_m, ni = tile % tiles_n;
      int64_t m0 = mi * t.bm, n0 = ni * t.bn;
      int64_t rows = std::min(t.bm, m - m0), cols = std::min(t.bn, n - n0);
      // Rows of op(A) start at row m0 of A, or at column m0 when A is stored transposed;
      // likewise for the columns of op(B).
      const T* a0 = pa + bi * a_batch_stride + (trans_a ? m0 : m0 * lda);
      const T* b0 = pb + bi * b_batch_stride + (trans_b ? n0 * ldb : n0);
      gemm<T>(trans_a, trans_b, rows, cols, k, T(1), a0, lda, b0, ldb, T(0), pc + bi * c_batch_stride + m0 * n + n0, n);
    }
  });
}

}  // namespace

void matmul_cpu(const KernelContext& ctx) {
  bool trans_a = ctx.node.attrs.get_bool_or("trans_a", false);
  bool trans_b = ctx.node.attrs.get_bool_or("trans_b", false);
  dispatch_floating(ctx.outputs[0].dtype(), "matmul", [&]<class T>() {
    matmul_typed<T>(ctx.inputs[0], ctx.inputs[1], ctx.outputs[0], trans_a, trans_b);
  });
}

}  // namespace dagrad
