// The copy engine behind the shape family and broadcast_to: gathers a strided view of a
// source buffer into a contiguous destination, for any element size.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dagrad {

// dst[i_0, ..., i_k] = src[offset + Σ_d i_d·strides[d]] for a contiguous row-major dst of
// `shape`; strides are in elements and may be 0 (broadcast). Dims are merged where the
// view allows, then rows are copied with memcpy, filled (stride 0), gathered, or, when
// the source's unit-stride dim is not dst's last, transposed tile by tile.
void strided_copy(const void* src, int64_t offset, const std::vector<int64_t>& strides, void* dst,
                  const std::vector<int64_t>& shape, size_t elem_size);

// Contiguous copy of `n` elements, split over the thread pool.
void parallel_copy(const void* src, void* dst, int64_t n, size_t elem_size);

}  // namespace dagrad
