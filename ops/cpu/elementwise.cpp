#include "ops/cpu/elementwise.h"

namespace dagrad::cpu {

BroadcastPlan plan_broadcast(const Shape& out, const Shape& a, const Shape& b) {
  const size_t r = out.rank();
  const Shape* in[2] = {&a, &b};
  // Row-major strides of each input aligned to the output's trailing dims; 0 where broadcast.
  std::vector<int64_t> stride[2];
  for (int k = 0; k < 2; ++k) {
    stride[k].assign(r, 0);
    const Shape& s = *in[k];
    const size_t offset = r - s.rank();
    int64_t acc = 1;
    for (size_t d = s.rank(); d-- > 0;) {
      if (s[d] != 1) stride[k][d + offset] = acc;
      acc *= s[d];
    }
  }
  // Walk from the innermost dim outwards, dropping size-1 dims and merging a dim into
  // the one inside it when every input steps through both as one contiguous range.
  BroadcastPlan p;
  for (size_t d = r; d-- > 0;) {
    if (out[d] == 1) continue;
    if (!p.dims.empty()) {
      const int64_t inner = p.dims.back();
      bool mergeable = true;
      for (int k = 0; k < 2; ++k) mergeable = mergeable && stride[k][d] == p.strides[k].back() * inner;
      if (mergeable) {
        p.dims.back() *= out[d];
        continue;
      }
    }
    p.dims.push_back(out[d]);
    for (int k = 0; k < 2; ++k) p.strides[k].push_back(stride[k][d]);
  }
  if (p.dims.empty()) {  // all dims are 1: a single element
    p.dims.push_back(1);
    for (int k = 0; k < 2; ++k) p.strides[k].push_back(0);
  }
  std::reverse(p.dims.begin(), p.dims.end());
  for (int k = 0; k < 2; ++k) std::reverse(p.strides[k].begin(), p.strides[k].end());
  return p;
}

}  // namespace dagrad::cpu
