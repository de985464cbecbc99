// Reproducible sums of long runs for the normalisation kernels (batch norm, layer norm).
#pragma once
#include <algorithm>
#include <cstdint>

namespace dagrad {

// Σ term(i) for i in [0, len): chunks of up to 1024 terms summed in T over 16 lanes
// (vectorised), chunks added in double, so float32 keeps ~7 digits for any length. The
// order is fixed by len alone, so results are reproducible.
template <class T, class Term>
double lane_sum(int64_t len, Term term) {
  constexpr int kLanes = 16;
  constexpr int64_t kChunk = 1024;
  double total = 0;
  for (int64_t start = 0; start < len; start += kChunk) {
    const int64_t end = std::min(len, start + kChunk);
    T acc[kLanes] = {};
    int64_t i = start;
    // The lane loop stays a loop (not unrolled) so that the loop vectoriser takes it: the
    // build disables SLP vectorisation (a GCC 12 miscompile), which would leave an
    // unrolled one scalar.
    for (; i + kLanes <= end; i += kLanes)
#pragma GCC unroll 1
      for (int k = 0; k < kLanes; ++k) acc[k] += term(i + k);
    double chunk = 0;
    for (; i < end; ++i) chunk += term(i);
    for (int k = 0; k < kLanes; ++k) chunk += acc[k];
    total += chunk;
  }
  return total;
}

// lane_sum of kRuns runs at once: totals[r] = lane_sum<T>(len, i -> term(r, i)), the same
// sums in the same order. The runs' chains of dependent adds interleave: a short run (a
// layer norm's row of 64) spends most of lane_sum waiting on its final add over the lanes.
template <class T, int kRuns, class Term>
void lane_sums(int64_t len, Term term, double* totals) {
  constexpr int kLanes = 16;
  constexpr int64_t kChunk = 1024;
  for (int r = 0; r < kRuns; ++r) totals[r] = 0;
  for (int64_t start = 0; start < len; start += kChunk) {
    const int64_t end = std::min(len, start + kChunk);
    T acc[kRuns][kLanes] = {};
    int64_t i = start;
    for (; i + kLanes <= end; i += kLanes)
      for (int r = 0; r < kRuns; ++r)
#pragma GCC unroll 1
        for (int k = 0; k < kLanes; ++k) acc[r][k] += term(r, i + k);
    double chunk[kRuns] = {};
    for (; i < end; ++i)
      for (int r = 0; r < kRuns; ++r) chunk[r] += term(r, i);
    for (int k = 0; k < kLanes; ++k)
      for (int r = 0; r < kRuns; ++r) chunk[r] += acc[r][k];
    for (int r = 0; r < kRuns; ++r) totals[r] += chunk[r];
  }
}

}  // namespace dagrad
