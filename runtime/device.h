#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace dagrad {

enum class DeviceType : uint8_t { cpu = 0, cuda = 1 };
constexpr int kNumDeviceTypes = 2;

struct Device {
  DeviceType type = DeviceType::cpu;
  int index = 0;

  static Device cpu() { return {DeviceType::cpu, 0}; }
  static Device cuda(int i = 0) { return {DeviceType::cuda, i}; }
  // "cpu", "cuda", "cuda:1"; throws ValueError on anything else.
  static Device parse(std::string_view s);
  std::string to_string() const;
  bool is_cpu() const { return type == DeviceType::cpu; }
  bool operator==(const Device&) const = default;
};

}  // namespace dagrad
