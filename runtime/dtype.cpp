#include "runtime/dtype.h"

#include <ostream>

namespace dagrad {

DType parse_dtype(std::string_view s) {
  for (DType t : kAllDTypes)
    if (s == dtype_name(t) || s == dtype_short_name(t)) return t;
  std::string names;
  for (DType t : kAllDTypes) names += str_cat(names.empty() ? "" : ", ", dtype_name(t));
  throw ValueError(str_cat("unknown dtype '", s, "' (expected one of ", names, ", or a short form: f32, bf16, i64, u8, ...)"));
}

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

}  // namespace dagrad
