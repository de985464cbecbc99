#include "runtime/shape.h"

#include <ostream>

#include "runtime/error.h"

namespace dagrad {

namespace {
std::string dims_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(dims[i]);
  }
  return s + "]";
}

// Dimensions are non-negative and the product of the nonzero ones fits int64_t, so numel()
// and strides() never overflow whatever the order of their products.
void check_dims(const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw ShapeError(str_cat("shape ", dims_string(dims), " has a negative dimension"));
    if (d && __builtin_mul_overflow(n, d, &n))
      throw ShapeError(str_cat("shape ", dims_string(dims), " has more elements than 64 bits can count"));
  }
}
}  // namespace

Shape::Shape(std::initializer_list<int64_t> dims) : dims_(dims) { check_dims(dims_); }
Shape::Shape(std::vector<int64_t> dims) : dims_(std::move(dims)) { check_dims(dims_); }

int Shape::axis(int a, const char* who) const {
  int r = static_cast<int>(rank());
  if (a < -r || a >= r)
    throw ShapeError(str_cat("[", who, "] axis ", a, " is out of range for shape ", to_string()));
  return a < 0 ? a + r : a;
}

int64_t Shape::dim(int i) const { return dims_[axis(i, "shape")]; }

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int64_t d : dims_) {
    if (d == 0) return 0;
    n *= d;
  }
  return n;
}

std::vector<int64_t> Shape::strides() const {
  std::vector<int64_t> s(dims_.size());
  int64_t acc = 1;
  for (size_t i = dims_.size(); i-- > 0;) {
    s[i] = acc;
    acc *= dims_[i];
  }
  return s;
}

std::string Shape::to_string() const { return dims_string(dims_); }

std::ostream& operator<<(std::ostream& os, const Shape& s) { return os << s.to_string(); }

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* who) {
  size_t r = std::max(a.rank(), b.rank());
  std::vector<int64_t> out(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.rank() ? 1 : a[i - (r - a.rank())];
    int64_t db = i < r - b.rank() ? 1 : b[i - (r - b.rank())];
    if (da != db && da != 1 && db != 1)
      throw ShapeError(str_cat("[", who, "] shapes ", a.to_string(), " and ", b.to_string(),
                               " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")"));
    out[i] = da == 1 ? db : da;
  }
  return Shape(std::move(out));
}

}  // namespace dagrad
