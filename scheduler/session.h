// Session: compile once per input signature, run many times. The graph is built for
// concrete input shapes; a new signature (the smaller last batch of an epoch, an
// evaluation batch) builds and compiles its own graph once and is cached. Parameters and
// optimizer state are bound once and shared by every compiled graph, and the step
// counter (dropout seeds) runs on across them.
#pragma once
#include <functional>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ops/interpreter.h"
#include "scheduler/compile_options.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler {

class Session {
 public:
  // Adds the nodes for inputs shaped like `inputs` to `g` (g.input(name, t.shape(),
  // t.dtype()) for each) and returns the values run() returns.
  using Builder = std::function<std::vector<Value>(Graph& g, const TensorMap& inputs)>;

  explicit Session(Builder build, CompileOptions options = {}, Backend& backend = backend_for(Device::cpu()));

  // Persistent state by name, kept (not copied) and updated in place by the graphs.
  void bind(const std::string& name, const Tensor& t);
  void bind(const TensorMap& state);

  // Compiles on the first run of a signature (names, shapes, dtypes of `inputs`).
  std::vector<Tensor> run(const TensorMap& inputs);
  // As run(), reusing `outputs` (see Executor::run) and, when the inputs have the last
  // run's signature, finding its executor without building the signature string: the
  // steady-state training step allocates nothing.
  void run(const TensorMap& inputs, std::vector<Tensor>& outputs);
  // The compiled executor for this signature, compiling it if needed (to inspect plans).
  Executor& executor_for(const TensorMap& inputs);

  size_t num_compiled() const { return cache_.size(); }
  // Applies Executor::set_check_numerics to every compiled and future executor.
  void set_check_numerics(bool on) {
    check_numerics_ = on;
    for (auto& [sig, e] : cache_) e.executor->set_check_numerics(on);
  }
  // Where compile warnings go (a memory budget that cannot be met); null: nowhere.
  void set_log(std::ostream* log) { log_ = log; }
  uint64_t next_step() const { return next_step_; }
  void set_next_step(uint64_t s) { next_step_ = s; }

  static std::string signature(const TensorMap& inputs);

 private:
  struct Entry {
    std::unique_ptr<Graph> graph;
    std::unique_ptr<Executor> executor;
    TensorMap signature_inputs;  // the inputs it was compiled for (shapes and dtypes count)
  };
  Entry& entry_for(const TensorMap& inputs);
  static bool same_signature(const TensorMap& a, const TensorMap& b);
  Builder build_;
  CompileOptions options_;
  Backend& backend_;
  TensorMap state_;
  std::map<std::string, Entry> cache_;
  Entry* last_ = nullptr;  // the last run's entry (map nodes do not move)
  uint64_t next_step_ = 0;
  bool check_numerics_ = false;
  std::ostream* log_ = nullptr;
};

}  // namespace dagrad::scheduler
