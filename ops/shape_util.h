// Small shape helpers shared by the op definitions and every backend's kernels: axis
// normalisation, the reduction mask, the view along one axis, and an odometer that
// walks the source offsets of consecutive flat indices.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "ops/params/reduce.h"
#include "runtime/shape.h"

namespace dagrad {

// Normalises a possibly negative axis against `s`; throws ShapeError
// "[who] axis 3 is out of range for shape [2,3]".
int normalize_axis(const Shape& s, int64_t axis, const std::string& who);

// Which axes of `s` a reduction over `axes` removes (empty `axes` = all of them). Throws
// ShapeError naming `who` for an axis out of range or listed twice.
std::vector<bool> reduce_mask(const Shape& s, const std::vector<int64_t>& axes, const std::string& who);

inline std::vector<int64_t> dims_of(const Shape& s) { return {s.begin(), s.end()}; }

// `s` along `axis` (possibly negative) as [outer, n, inner]; throws like normalize_axis.
AxisView view_along(const Shape& s, int64_t axis, const std::string& who);

// Source offsets of consecutive flat indices over a row-major index space `sizes`, where
// index dimension d advances the source by strides[d] elements.
// Dims up to rank 8 live inline: kernels build walkers per work piece, allocation-free.
using DimVec = boost::container::small_vector<int64_t, 8>;

class OffsetWalker {
 public:
  template <class Sizes, class Strides>
  OffsetWalker(const Sizes& sizes, const Strides& strides, int64_t start = 0)
      : sizes_(sizes.begin(), sizes.end()), strides_(strides.begin(), strides.end()), index_(sizes_.size(), 0) {
    for (size_t d = sizes_.size(); d-- > 0;) {
      index_[d] = start % sizes_[d];
      start /= sizes_[d];
      offset_ += index_[d] * strides_[d];
    }
  }
  int64_t offset() const { return offset_; }
  void next() {
    for (size_t d = sizes_.size(); d-- > 0;) {
      offset_ += strides_[d];
      if (++index_[d] < sizes_[d]) return;
      offset_ -= strides_[d] * sizes_[d];
      index_[d] = 0;
    }
  }

 private:
  DimVec sizes_, strides_, index_;
  int64_t offset_ = 0;
};

}  // namespace dagrad
