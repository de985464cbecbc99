#include "scheduler/session.h"

#include <algorithm>
#include <ostream>

#include "runtime/error.h"
#include "scheduler/compile.h"

namespace dagrad::scheduler {

Session::Session(Builder build, CompileOptions options, Backend& backend)
    : build_(std::move(build)), options_(std::move(options)), backend_(backend) {
  if (!build_) throw ValueError("[session] needs a function that builds the graph");
}

void Session::bind(const std::string& name, const Tensor& t) {
  state_[name] = t;
  for (auto& [_, e] : cache_)
    if (e.graph->has_node(name)) e.executor->bind(name, t);
}

void Session::bind(const TensorMap& state) {
  for (const auto& [name, t] : state) bind(name, t);
}

std::string Session::signature(const TensorMap& inputs) {
  std::vector<std::string> parts;
  for (const auto& [name, t] : inputs)
    parts.push_back(str_cat(name, ":", t.shape().to_string(), dtype_name(t.dtype())));
  std::sort(parts.begin(), parts.end());
  std::string sig;
  for (const auto& p : parts) sig += p + ";";
  return sig;
}

bool Session::same_signature(const TensorMap& a, const TensorMap& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [name, t] : a) {
    auto it = b.find(name);
    if (it == b.end() || it->second.shape() != t.shape() || it->second.dtype() != t.dtype()) return false;
  }
  return true;
}

Executor& Session::executor_for(const TensorMap& inputs) { return *entry_for(inputs).executor; }

Session::Entry& Session::entry_for(const TensorMap& inputs) {
  std::string sig = signature(inputs);
  auto it = cache_.find(sig);
  if (it != cache_.end()) return it->second;
  Entry e;
  // Only shapes and dtypes are kept: the tensors themselves are not held on to.
  for (const auto& [name, t] : inputs) e.signature_inputs[name] = Tensor::borrow(nullptr, t.shape(), t.dtype());
  e.graph = std::make_unique<Graph>();
  std::vector<Value> outputs = build_(*e.graph, inputs);
  e.executor = std::make_unique<Executor>(compile(*e.graph, outputs, options_), backend_);
  if (std::string w = e.executor->plan().budget_warning(); !w.empty() && log_) *log_ << w << "\n" << std::flush;
  e.executor->set_check_numerics(check_numerics_);
  for (const auto& [name, t] : state_)
    if (e.graph->has_node(name)) e.executor->bind(name, t);
  return cache_.emplace(sig, std::move(e)).first->second;
}

std::vector<Tensor> Session::run(const TensorMap& inputs) {
  Executor& ex = executor_for(inputs);
  std::vector<Tensor> out = ex.run(inputs, next_step_);
  next_step_ = ex.next_step();
  return out;
}

void Session::run(const TensorMap& inputs, std::vector<Tensor>& outputs) {
  if (!last_ || !same_signature(inputs, last_->signature_inputs)) last_ = &entry_for(inputs);
  last_->executor->run(inputs, next_step_, outputs);
  next_step_ = last_->executor->next_step();
}

}  // namespace dagrad::scheduler
