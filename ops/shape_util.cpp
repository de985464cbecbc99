#include "ops/shape_util.h"

#include "ops/attrs.h"
#include "runtime/error.h"

namespace dagrad {

int normalize_axis(const Shape& s, int64_t axis, const std::string& who) {
  int64_t r = static_cast<int64_t>(s.rank());
  if (axis < -r || axis >= r)
    throw ShapeError(str_cat("[", who, "] axis ", axis, " is out of range for shape ", s.to_string()));
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

AxisView view_along(const Shape& s, int64_t axis, const std::string& who) {
  const int a = normalize_axis(s, axis, who);
  AxisView v;
  for (int d = 0; d < static_cast<int>(s.rank()); ++d) (d < a ? v.outer : d == a ? v.n : v.inner) *= s[d];
  return v;
}

std::vector<bool> reduce_mask(const Shape& s, const std::vector<int64_t>& axes, const std::string& who) {
  std::vector<bool> mask(s.rank(), axes.empty());
  for (int64_t a : axes) {
    int d = normalize_axis(s, a, who);
    if (mask[d])
      throw ShapeError(str_cat("[", who, "] axis ", a, " is listed twice in axes ", attr_to_string(axes), " for shape ",
                               s.to_string()));
    mask[d] = true;
  }
  return mask;
}

}  // namespace dagrad
