#include "ops/attrs.h"

#include "runtime/error.h"

namespace dagrad {

const AttrValue& Attrs::at(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw ValueError(str_cat("missing attribute '", name, "'"));
  return it->second;
}

namespace {
template <class T>
const T& get_as(const AttrValue& v, const std::string& name, const char* kind) {
  if (auto* p = std::get_if<T>(&v)) return *p;
  throw ValueError(str_cat("attribute '", name, "' should be ", kind, ", got ", attr_to_string(v)));
}
}  // namespace

int64_t Attrs::get_int(const std::string& name) const { return get_as<int64_t>(at(name), name, "an integer"); }
bool Attrs::get_bool(const std::string& name) const { return get_as<bool>(at(name), name, "a bool"); }
const std::string& Attrs::get_string(const std::string& name) const {
  return get_as<std::string>(at(name), name, "a string");
}
const std::vector<int64_t>& Attrs::get_ints(const std::string& name) const {
  return get_as<std::vector<int64_t>>(at(name), name, "a list of integers");
}
double Attrs::get_float(const std::string& name) const {
  const AttrValue& v = at(name);
  if (auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
  return get_as<double>(v, name, "a number");
}

std::string attr_to_string(const AttrValue& v) {
  struct Printer {
    std::string operator()(int64_t i) const { return std::to_string(i); }
    std::string operator()(double d) const { return str_cat(d); }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(const std::string& s) const { return "\"" + s + "\""; }
    std::string operator()(const std::vector<int64_t>& v) const {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) {
        if (i) s += ',';
        s += std::to_string(v[i]);
      }
      return s + "]";
    }
  };
  return std::visit(Printer{}, v);
}

std::string Attrs::to_string() const {
  std::string s;
  for (const auto& [k, v] : values_) {
    if (!s.empty()) s += ", ";
    s += k + "=" + attr_to_string(v);
  }
  return s;
}

}  // namespace dagrad
