#include "runtime/dtype.h"

#include <ostream>

namespace dagrad {

DType parse_dtype(std::string_view s) {
  for (DType t : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8}) {
    std::string_view full = dtype_name(t);
    // Short forms: f32, f64, i32, i64, u8.
    std::string shortname{full.substr(0, 1)};
    shortname += full.substr(full.find_first_of("0123456789"));
    if (s == full || s == shortname) return t;
  }
  throw ValueError(str_cat("unknown dtype '", s, "' (expected float32, float64, int32, int64 or uint8)"));
}

std::ostream& operator<<(std::ostream& os, DType t) { return os << dtype_name(t); }

}  // namespace dagrad
