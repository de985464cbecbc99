// The op registry: every OpDef by name, each with a stable id that backends' kernel
// tables are indexed by. Built-in ops are registered by explicit functions (static
// initialisers would be silently dropped from a static library) on first access; layers
// above ops/ and extensions add theirs with add().
#pragma once
#include <deque>
#include <map>
#include <mutex>
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
  // Registers a new op and returns it (its address is stable); throws ValueError if the
  // name is taken or the record is incomplete.
  const OpDef& add(OpDef def);
  std::vector<const OpDef*> all() const;  // sorted by name
  size_t size() const;

 private:
  OpRegistry() = default;
  mutable std::mutex mutex_;
  std::deque<OpDef> ops_;  // by id
  std::map<std::string, const OpDef*> by_name_;
};

inline const OpDef& op_def(const std::string& name) { return OpRegistry::instance().get(name); }

}  // namespace dagrad
