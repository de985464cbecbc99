#pragma once
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <string>
#include <vector>

namespace dagrad {

// Dimensions of a dense row-major tensor. Rank 0 is a scalar (numel 1).
class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::vector<int64_t> dims);

  size_t rank() const { return dims_.size(); }
  // Dimension i; negative i counts from the end (-1 is the last). Throws on out of range.
  int64_t dim(int i) const;
  int64_t operator[](size_t i) const { return dims_[i]; }
  int64_t numel() const;
  // Row-major strides in elements.
  std::vector<int64_t> strides() const;
  const std::vector<int64_t>& dims() const { return dims_; }
  // Normalises a possibly negative axis against this rank; throws ShapeError naming `who`.
  int axis(int a, const char* who) const;

  std::string to_string() const;  // "[64,1,28,28]"
  bool operator==(const Shape& o) const { return dims_ == o.dims_; }
  bool operator!=(const Shape& o) const { return dims_ != o.dims_; }
  auto begin() const { return dims_.begin(); }
  auto end() const { return dims_.end(); }

 private:
  std::vector<int64_t> dims_;
};

std::ostream& operator<<(std::ostream& os, const Shape& s);

// NumPy broadcasting of two shapes; throws ShapeError naming `who` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who = "broadcast");

}  // namespace dagrad
