#include "ops/cpu/shape_copy.h"

#include <algorithm>
#include <cstring>

#include "ops/shape_util.h"
#include "runtime/error.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

constexpr int64_t kChunk = 16384;  // elements per work item along a long row
constexpr int64_t kTile = 32;      // transpose tile edge

// Sizes and source strides after dropping size-1 dims and merging dims that are
// contiguous with respect to each other in the source.
struct Layout {
  std::vector<int64_t> n, s;
};

Layout coalesce(const std::vector<int64_t>& shape, const std::vector<int64_t>& strides) {
  Layout l;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    if (!l.n.empty() && l.s.back() == strides[d] * shape[d]) {
      l.n.back() *= shape[d];
      l.s.back() = strides[d];
    } else {
      l.n.push_back(shape[d]);
      l.s.push_back(strides[d]);
    }
  }
  return l;
}

// Rows of the last dim, each split into chunks of at most kChunk elements: memcpy when
// the row is contiguous in the source, a fill when it is broadcast, a gather otherwise.
template <class E>
void copy_rows(const E* src, E* dst, const Layout& l) {
  const int m = static_cast<int>(l.n.size());
  const int64_t inner = l.n[m - 1], step = l.s[m - 1];
  std::vector<int64_t> outer_n(l.n.begin(), l.n.end() - 1), outer_s(l.s.begin(), l.s.end() - 1);
  int64_t rows = 1;
  for (int64_t v : outer_n) rows *= v;
  const int64_t chunks = (inner + kChunk - 1) / kChunk;
  const int64_t grain = std::max<int64_t>(1, kChunk / inner);
  parallel_for(0, rows * chunks, grain, [&](int64_t lo, int64_t hi) {
    OffsetWalker row_walk(outer_n, outer_s, lo / chunks);
    int64_t row = lo / chunks;
    for (int64_t item = lo; item < hi; ++item) {
      if (item / chunks != row) {
        row = item / chunks;
        row_walk.next();
      }
      int64_t c0 = (item % chunks) * kChunk, len = std::min(kChunk, inner - c0);
      const E* s = src + row_walk.offset() + c0 * step;
      E* d = dst + row * inner + c0;
      if (step == 1) {
        std::memcpy(d, s, static_cast<size_t>(len) * sizeof(E));
      } else if (step == 0) {
        std::fill(d, d + len, *s);
      } else {
        for (int64_t j = 0; j < len; ++j) d[j] = s[j * step];
      }
    }
  });
}

// The source's unit-stride dim p is not dst's last dim q: copy the (p, q) planes in
// square tiles through a buffer, so that both the reads (along p) and the writes (along
// q) are contiguous runs, even when power-of-two strides would make a direct tile loop
// thrash one cache set.
template <class E>
void copy_transposed(const E* src, E* dst, const Layout& l, int p) {
  const int m = static_cast<int>(l.n.size()), q = m - 1;
  std::vector<int64_t> dst_stride(m);
  for (int64_t d = m - 1, acc = 1; d >= 0; --d) dst_stride[d] = acc, acc *= l.n[d];
  // The other dims, walked for source and destination offsets together.
  std::vector<int64_t> rest_n, rest_s, rest_d;
  for (int d = 0; d < q; ++d)
    if (d != p) rest_n.push_back(l.n[d]), rest_s.push_back(l.s[d]), rest_d.push_back(dst_stride[d]);
  int64_t planes = 1;
  for (int64_t v : rest_n) planes *= v;
  const int64_t np = l.n[p], nq = l.n[q], sq = l.s[q], dp = dst_stride[p];
  const int64_t bands = (np + kTile - 1) / kTile;  // work item: one band of kTile p-rows
  const int64_t grain = std::max<int64_t>(1, kChunk / (kTile * nq));
  parallel_for(0, planes * bands, grain, [&](int64_t lo, int64_t hi) {
    E tile[kTile * kTile];
    OffsetWalker src_walk(rest_n, rest_s, lo / bands), dst_walk(rest_n, rest_d, lo / bands);
    int64_t plane = lo / bands;
    for (int64_t item = lo; item < hi; ++item) {
      if (item / bands != plane) {
        plane = item / bands;
        src_walk.next();
        dst_walk.next();
      }
      const int64_t p0 = (item % bands) * kTile, pn = std::min(kTile, np - p0);
      const E* s = src + src_walk.offset() + p0;
      E* d = dst + dst_walk.offset() + p0 * dp;
      for (int64_t q0 = 0; q0 < nq; q0 += kTile) {
        const int64_t qn = std::min(kTile, nq - q0);
        for (int64_t j = 0; j < qn; ++j)
          for (int64_t i = 0; i < pn; ++i) tile[j * kTile + i] = s[(q0 + j) * sq + i];
        for (int64_t i = 0; i < pn; ++i)
          for (int64_t j = 0; j < qn; ++j) d[i * dp + q0 + j] = tile[j * kTile + i];
      }
    }
  });
}

template <class E>
void copy_typed(const E* src, E* dst, const Layout& l) {
  if (l.n.empty()) {
    dst[0] = src[0];
    return;
  }
  const int m = static_cast<int>(l.n.size());
  if (l.s[m - 1] != 1)
    for (int p = 0; p < m - 1; ++p)
      if (l.s[p] == 1) return copy_transposed(src, dst, l, p);
  copy_rows(src, dst, l);
}

template <class Fn>
void dispatch_size(size_t elem_size, Fn&& fn) {
  switch (elem_size) {
    case 1:
      return fn.template operator()<uint8_t>();
    case 2:
      return fn.template operator()<uint16_t>();
    case 4:
      return fn.template operator()<uint32_t>();
    case 8:
      return fn.template operator()<uint64_t>();
  }
  throw InternalError(str_cat("strided_copy: unsupported element size ", elem_size));
}

}  // namespace

void strided_copy(const void* src, int64_t offset, const std::vector<int64_t>& strides, void* dst,
                  const std::vector<int64_t>& shape, size_t elem_size) {
  DAGRAD_ASSERT(strides.size() == shape.size());
  for (int64_t d : shape)
    if (d == 0) return;
  Layout l = coalesce(shape, strides);
  dispatch_size(elem_size,
                [&]<class E>() { copy_typed(static_cast<const E*>(src) + offset, static_cast<E*>(dst), l); });
}

void parallel_copy(const void* src, void* dst, int64_t n, size_t elem_size) {
  if (n > 0) strided_copy(src, 0, {1}, dst, {n}, elem_size);
}

}  // namespace dagrad
