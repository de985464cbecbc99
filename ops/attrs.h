// Typed node attributes (stride, padding, axis, ...), validated against each op's schema.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace dagrad {

using AttrValue = std::variant<int64_t, double, bool, std::string, std::vector<int64_t>>;
enum class AttrKind { Int, Float, Bool, String, Ints };

struct AttrSpec {
  std::string name;
  AttrKind kind;
  bool required = false;
};

class Attrs {
 public:
  Attrs() = default;
  Attrs(std::initializer_list<std::pair<const std::string, AttrValue>> init) : values_(init) {}

  Attrs& set(const std::string& name, AttrValue v) {
    values_[name] = std::move(v);
    return *this;
  }
  bool has(const std::string& name) const { return values_.count(name) != 0; }
  // Getters throw ValueError naming the attribute when it is missing or of another kind;
  // the *_or forms return a default when it is missing.
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;  // an Int converts
  bool get_bool(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const std::vector<int64_t>& get_ints(const std::string& name) const;
  int64_t get_int_or(const std::string& name, int64_t dflt) const { return has(name) ? get_int(name) : dflt; }
  double get_float_or(const std::string& name, double dflt) const { return has(name) ? get_float(name) : dflt; }
  bool get_bool_or(const std::string& name, bool dflt) const { return has(name) ? get_bool(name) : dflt; }

  const std::map<std::string, AttrValue>& values() const { return values_; }
  std::string to_string() const;  // "stride=[1,1], padding=[0,0]"
  bool operator==(const Attrs&) const = default;

 private:
  const AttrValue& at(const std::string& name) const;
  std::map<std::string, AttrValue> values_;  // ordered: printing and hashing are stable
};

std::string attr_to_string(const AttrValue& v);

}  // namespace dagrad
