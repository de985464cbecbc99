// The op registry: every OpDef by name. Ops are registered by explicit functions, not
// static initialisers (which a static library would silently drop), on first access.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "ops/op_def.h"

namespace dagrad {

class OpRegistry {
 public:
  static OpRegistry& instance();
  // Throws ValueError "unknown op 'x'" (with a close match when there is one).
  const OpDef& get(const std::string& name) const;
  const OpDef* find(const std::string& name) const;
  // For extensions: registers a new op; throws ValueError if the name is taken.
  OpDef& add(OpDef def);
  // Mutable access, used by backends to attach their kernels.
  OpDef& get_mutable(const std::string& name);
  std::vector<const OpDef*> all() const;  // sorted by name

 private:
  OpRegistry() = default;
  std::map<std::string, OpDef> ops_;
};

inline const OpDef& op_def(const std::string& name) { return OpRegistry::instance().get(name); }

}  // namespace dagrad
