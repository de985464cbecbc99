#include "ops/registry.h"

#include <algorithm>

#include "ops/defs/families.h"
#include "runtime/error.h"

namespace dagrad {

OpRegistry& OpRegistry::instance() {
  static OpRegistry* reg = [] {
    auto* r = new OpRegistry;
    register_source_ops(*r);
    register_elementwise_ops(*r);
    register_cast_ops(*r);
    register_reduce_ops(*r);
    register_shape_ops(*r);
    register_linalg_ops(*r);
    register_conv_ops(*r);
    register_nn_ops(*r);
    register_norm_ops(*r);
    register_index_ops(*r);
    register_attention_ops(*r);
    register_optim_ops(*r);
    return r;
  }();
  return *reg;
}

const OpDef* OpRegistry::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

namespace {
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1])});
      diag = up;
    }
  }
  return row[b.size()];
}
}  // namespace

const OpDef& OpRegistry::get(const std::string& name) const {
  if (const OpDef* d = find(name)) return *d;
  std::lock_guard lock(mutex_);
  std::string best;
  size_t best_d = 3;
  for (const auto& [k, _] : by_name_)
    if (size_t d = edit_distance(name, k); d < best_d) best_d = d, best = k;
  throw ValueError(str_cat("unknown op '", name, "'", best.empty() ? "" : str_cat(" (did you mean '", best, "'?)")));
}

const OpDef& OpRegistry::add(OpDef def) {
  if (def.name.empty() || !def.infer) throw ValueError("an op needs a name and a shape inference function");
  if (def.elementwise && (!def.elementwise->tile_f32 || !def.elementwise->tile_f64 || !def.elementwise->functor))
    throw ValueError(str_cat("op '", def.name, "': an elementwise form needs its functor and tile functions"));
  std::lock_guard lock(mutex_);
  if (by_name_.count(def.name)) throw ValueError(str_cat("op '", def.name, "' is already registered"));
  def.id = static_cast<int>(ops_.size());
  const OpDef& added = ops_.emplace_back(std::move(def));
  by_name_[added.name] = &added;
  return added;
}

std::vector<const OpDef*> OpRegistry::all() const {
  std::lock_guard lock(mutex_);
  std::vector<const OpDef*> out;
  for (const auto& [_, d] : by_name_) out.push_back(d);
  return out;
}

size_t OpRegistry::size() const {
  std::lock_guard lock(mutex_);
  return ops_.size();
}

}  // namespace dagrad
