#include "ops/cpu/gemm_engine.h"

#include <atomic>
#include <cstdlib>
#include <new>

#include "ops/cpu/transpose.h"
#include "runtime/thread_buffer.h"

namespace dagrad::gemm_engine {

namespace {

// GCC vector extensions: one source for AVX-512 (zmm), AVX2 (ymm) or SSE; `a * b + c`
// contracts to FMA where the target has it.
typedef float Vec __attribute__((vector_size(kLanes * sizeof(float))));
typedef float VecU __attribute__((vector_size(kLanes * sizeof(float)), aligned(alignof(float))));

// The register tile: acc[r][v] holds row r, columns [v*kLanes, (v+1)*kLanes) of a kMr x
// (NV*kLanes) tile. a(k, r) and b(k, v) read the operands, packed or in place.
template <int NV, class LoadA, class LoadB>
inline __attribute__((always_inline)) void tile_product(int64_t kc, LoadA&& a, LoadB&& b, Vec (&acc)[kMr][NV]) {
  for (int r = 0; r < kMr; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = Vec{};
  for (int64_t k = 0; k < kc; ++k) {
    Vec bk[NV];
    for (int v = 0; v < NV; ++v) bk[v] = b(k, v);
    for (int r = 0; r < kMr; ++r) {
      const float ak = a(k, r);
      for (int v = 0; v < NV; ++v) acc[r][v] += ak * bk[v];
    }
  }
}

template <int NV>
inline __attribute__((always_inline)) void store_tile(Vec (&acc)[kMr][NV], float* c, int64_t ldc, int mr, int nr,
                                                      bool accumulate, const float* bias) {
  constexpr int w = NV * kLanes;
  if (bias)
    for (int r = 0; r < kMr; ++r)
      for (int v = 0; v < NV; ++v) acc[r][v] += bias[r < mr ? r : 0];
  if (mr == kMr && nr == w) {
    for (int r = 0; r < kMr; ++r)
      for (int v = 0; v < NV; ++v) {
        VecU* p = reinterpret_cast<VecU*>(c + r * ldc + v * kLanes);
        *p = accumulate ? *p + acc[r][v] : acc[r][v];
      }
    return;
  }
  // Edge tile: through a buffer, storing only the rows and columns inside C.
  alignas(64) float tile[kMr][w];
  for (int r = 0; r < kMr; ++r)
    for (int v = 0; v < NV; ++v) *reinterpret_cast<Vec*>(&tile[r][v * kLanes]) = acc[r][v];
  for (int r = 0; r < mr; ++r) {
    float* row = c + r * ldc;
    if (accumulate)
      for (int j = 0; j < nr; ++j) row[j] += tile[r][j];
    else
      for (int j = 0; j < nr; ++j) row[j] = tile[r][j];
  }
}

template <int NV>
void kernel(int64_t kc, const float* __restrict ap, const float* __restrict bp, float* c, int64_t ldc, int mr, int nr,
            bool accumulate, const float* bias) {
  constexpr int w = NV * kLanes;
  Vec acc[kMr][NV];
  tile_product<NV>(
      kc, [&](int64_t k, int r) { return ap[k * kMr + r]; },
      [&](int64_t k, int v) { return *reinterpret_cast<const Vec*>(bp + k * w + v * kLanes); }, acc);
  store_tile<NV>(acc, c, ldc, mr, nr, accumulate, bias);
}

template <int NV>
void kernel_direct_b(int64_t kc, const float* __restrict ap, const float* __restrict b, const int32_t* __restrict koff,
                     float* c, int64_t ldc, int mr, int nr, bool accumulate, const float* bias) {
  Vec acc[kMr][NV];
  tile_product<NV>(
      kc, [&](int64_t k, int r) { return ap[k * kMr + r]; },
      [&](int64_t k, int v) { return Vec(*reinterpret_cast<const VecU*>(b + koff[k] + v * kLanes)); }, acc);
  store_tile<NV>(acc, c, ldc, mr, nr, accumulate, bias);
}

template <int NV>
void kernel_direct_a(int64_t kc, const float* const* a_rows, const float* __restrict bp, float* c, int64_t ldc, int mr,
                     int nr, bool accumulate) {
  constexpr int w = NV * kLanes;
  const float* rows[kMr];
  for (int r = 0; r < kMr; ++r) rows[r] = a_rows[r];
  Vec acc[kMr][NV];
  tile_product<NV>(
      kc, [&](int64_t k, int r) { return rows[r][k]; },
      [&](int64_t k, int v) { return *reinterpret_cast<const Vec*>(bp + k * w + v * kLanes); }, acc);
  store_tile<NV>(acc, c, ldc, mr, nr, accumulate, nullptr);
}

}  // namespace

void micro_kernel(int w, int64_t kc, const float* ap, const float* bp, float* c, int64_t ldc, int mr, int nr,
                  bool accumulate, const float* bias) {
  switch (w / kLanes) {
    case 3:
      return kernel<3>(kc, ap, bp, c, ldc, mr, nr, accumulate, bias);
    case 2:
      return kernel<2>(kc, ap, bp, c, ldc, mr, nr, accumulate, bias);
    default:
      return kernel<1>(kc, ap, bp, c, ldc, mr, nr, accumulate, bias);
  }
}

void micro_kernel_direct_b(int w, int64_t kc, const float* ap, const float* b, const int32_t* koff, float* c,
                           int64_t ldc, int mr, int nr, bool accumulate, const float* bias) {
  switch (w / kLanes) {
    case 3:
      return kernel_direct_b<3>(kc, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
    case 2:
      return kernel_direct_b<2>(kc, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
    default:
      return kernel_direct_b<1>(kc, ap, b, koff, c, ldc, mr, nr, accumulate, bias);
  }
}

void micro_kernel_direct_a(int w, int64_t kc, const float* const* a_rows, const float* bp, float* c, int64_t ldc,
                           int mr, int nr, bool accumulate) {
  switch (w / kLanes) {
    case 3:
      return kernel_direct_a<3>(kc, a_rows, bp, c, ldc, mr, nr, accumulate);
    case 2:
      return kernel_direct_a<2>(kc, a_rows, bp, c, ldc, mr, nr, accumulate);
    default:
      return kernel_direct_a<1>(kc, a_rows, bp, c, ldc, mr, nr, accumulate);
  }
}

// ---- scratch ----

float* Scratch::get(Slot slot, size_t floats) {
  Buf& buf = bufs_[static_cast<int>(slot)];
  // Which thread runs which pool piece varies from step to step. So every thread keeps
  // each slot at the largest size any thread has needed, catching up at its next use even
  // when that use needs less, or as it joins a pool job (runtime/thread_buffer.h): once
  // the sizes settle, the steady state allocates nothing.
  static std::atomic<size_t> largest[static_cast<int>(Slot::count)];
  std::atomic<size_t>& hw = largest[static_cast<int>(slot)];
  if (floats <= buf.n && hw.load(std::memory_order_relaxed) <= buf.n) return buf.p;
  static const bool registered = [] {
    thread_buffer_detail::register_catch_up([] { thread_scratch().catch_up(); });
    return true;
  }();
  (void)registered;
  floats = thread_buffer_detail::grown_size(hw, floats);
  std::free(buf.p);
  const size_t bytes = static_cast<size_t>(round_up(static_cast<int64_t>(floats * sizeof(float)), 64));
  buf.p = static_cast<float*>(std::aligned_alloc(64, bytes));
  if (!buf.p) {
    buf.n = 0;
    throw std::bad_alloc();
  }
  buf.n = floats;
  return buf.p;
}

void Scratch::catch_up() {
  for (int slot = 0; slot < static_cast<int>(Slot::count); ++slot) get(static_cast<Slot>(slot), 0);
}

Scratch::~Scratch() {
  for (Buf& b : bufs_) std::free(b.p);
}

Scratch& thread_scratch() {
  static thread_local Scratch s;
  return s;
}

// ---- generic packers ----

void pack_a_panel(const float* a, int64_t rs, int64_t cs, int mr, int64_t kc, float* dst) {
  if (mr == kMr && cs == 1) {
    // Rows contiguous along k: read kMr rows side by side.
    const float* row[kMr];
    for (int r = 0; r < kMr; ++r) row[r] = a + r * rs;
    for (int64_t k = 0; k < kc; ++k)
      for (int r = 0; r < kMr; ++r) dst[k * kMr + r] = row[r][k];
    return;
  }
  if (mr == kMr && rs == 1) {
    // Stored transposed: each step's kMr values are adjacent.
    for (int64_t k = 0; k < kc; ++k)
      for (int r = 0; r < kMr; ++r) dst[k * kMr + r] = a[k * cs + r];
    return;
  }
  for (int64_t k = 0; k < kc; ++k)
    for (int r = 0; r < kMr; ++r) dst[k * kMr + r] = r < mr ? a[r * rs + k * cs] : 0.f;
}

void pack_b_panel(const float* b, int64_t rs, int64_t cs, int64_t kc, int nr, int w, float* dst) {
  if (cs == 1) {
    // Rows contiguous along j: copy each step's row segment.
    for (int64_t k = 0; k < kc; ++k) {
      const float* src = b + k * rs;
      float* d = dst + k * w;
      for (int j = 0; j < nr; ++j) d[j] = src[j];
      for (int j = nr; j < w; ++j) d[j] = 0.f;
    }
    return;
  }
  if (rs == 1) {
    // Stored transposed: each column is contiguous along k; transposed in 16 x 16 blocks.
    transpose_32bit(reinterpret_cast<const uint32_t*>(b), cs, nr, kc, reinterpret_cast<uint32_t*>(dst), w);
    if (nr < w)
      for (int64_t k = 0; k < kc; ++k) std::fill(dst + k * w + nr, dst + (k + 1) * w, 0.f);
    return;
  }
  for (int64_t k = 0; k < kc; ++k)
    for (int j = 0; j < w; ++j) dst[k * w + j] = j < nr ? b[k * rs + j * cs] : 0.f;
}

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
           int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  const int64_t ars = trans_a ? 1 : lda, acs = trans_a ? lda : 1;
  const int64_t brs = trans_b ? 1 : ldb, bcs = trans_b ? ldb : 1;
  run(
      Problem{m, n, k},
      [&](int64_t i0, int mr, int64_t k0, int64_t kc, float* dst) {
        pack_a_panel(a + i0 * ars + k0 * acs, ars, acs, mr, kc, dst);
      },
      [&](int64_t k0, int64_t kc, int64_t j0, int nr, int w, float* dst) {
        pack_b_panel(b + k0 * brs + j0 * bcs, brs, bcs, kc, nr, w, dst);
      },
      c, ldc, accumulate);
}

}  // namespace dagrad::gemm_engine
