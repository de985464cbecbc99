#include "runtime/device.h"

#include <charconv>

#include "runtime/error.h"

namespace dagrad {

Device Device::parse(std::string_view s) {
  if (s == "cpu") return cpu();
  if (s == "cuda") return cuda(0);
  if (s.starts_with("cuda:")) {
    std::string_view num = s.substr(5);
    int idx = -1;
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), idx);
    if (ec == std::errc() && p == num.data() + num.size() && idx >= 0) return cuda(idx);
  }
  throw ValueError(str_cat("unknown device '", s, "' (expected cpu, cuda or cuda:N)"));
}

std::string Device::to_string() const {
  return type == DeviceType::cpu ? "cpu" : "cuda:" + std::to_string(index);
}

}  // namespace dagrad
