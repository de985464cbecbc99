// Index helpers for the plain-loop references of the reduce and shape families.
#pragma once
#include <cstdint>
#include <vector>

#include "op_cases.h"

namespace dagrad::testing {

// Row-major coordinates of flat index `i` in `s`, and back.
inline std::vector<int64_t> coords_of(const Shape& s, int64_t i) {
  std::vector<int64_t> c(s.rank());
  for (size_t d = s.rank(); d-- > 0;) {
    c[d] = i % s[d];
    i /= s[d];
  }
  return c;
}

inline int64_t flat_of(const Shape& s, const std::vector<int64_t>& c) {
  int64_t i = 0;
  for (size_t d = 0; d < s.rank(); ++d) i = i * s[d] + c[d];
  return i;
}

inline std::vector<int64_t> dims_vec(const Shape& s) { return {s.begin(), s.end()}; }

// An empty tensor of x's dtype kind for outputs that copy x: f64 for floats, x's own
// integer type otherwise, filled by f(flat output index) -> flat input index.
template <class Fn>
Tensor gather_ref(const Tensor& x, const Shape& out, Fn&& src_index) {
  if (is_floating(x.dtype())) return make_f64(out, [&](int64_t i) { return at(x, src_index(i)); });
  Tensor t = Tensor::empty(out, x.dtype());
  dispatch_all(x.dtype(), [&]<class T>() {
    for (int64_t i = 0; i < t.numel(); ++i) t.data<T>()[i] = x.data<T>()[src_index(i)];
  });
  return t;
}

}  // namespace dagrad::testing
