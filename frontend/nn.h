// nn modules: the DSL's building blocks that own parameters (PyTorch-like names and
// default initialisation). A module only declares parameters and builds nodes; the
// parameter values live in a TensorMap (name -> Tensor), shared by every graph built
// from the model (e.g. one per batch size, one for training and one for evaluation).
//
//   nn::Sequential net("net", {
//       nn::conv2d("conv1", 1, 32, 3), nn::relu(), nn::max_pool2d(2), nn::flatten(),
//       nn::linear("fc", 5408, 10)});
//   Value logits = net(x);
#pragma once
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <vector>

#include "ops/interpreter.h"
#include "ops/ops.h"
#include "runtime/rng.h"

namespace dagrad::nn {

// The caller's line, defaulted (as in ops/ops.h).
#define DAGRAD_LOC const std::source_location& loc = std::source_location::current()

// A parameter or buffer a module declares: its graph name, shape and initialiser.
struct ParamSpec {
  std::string name;
  Shape shape;
  bool trainable = true;  // false for buffers such as batch-norm running statistics
  std::function<void(Tensor&, Generator&)> init;
};

class Module {
 public:
  // `where` is the line that declared the module: errors in the nodes it builds point there.
  explicit Module(std::string name = {}, std::source_location where = std::source_location::current())
      : name_(std::move(name)), where_(where) {}
  virtual ~Module() = default;

  // Builds this module's nodes on x's graph and returns the result.
  virtual Value forward(Value x) = 0;
  Value operator()(Value x) { return forward(x); }

  // Declared parameters and buffers, recursively, in a stable order.
  virtual void collect(std::vector<ParamSpec>& out) const { (void)out; }
  // Training mode (dropout active, batch norm on batch statistics) or evaluation.
  virtual void train(bool on) { training_ = on; }
  bool training() const { return training_; }
  const std::string& name() const { return name_; }
  const std::source_location& where() const { return where_; }

 protected:
  // The graph's parameter node for `spec` (created on first use in that graph).
  Value param(Graph& g, const ParamSpec& spec) const;
  // The parameter nodes of everything collect() declares, in its order.
  std::vector<Value> params(Graph& g) const;

  std::string name_;
  std::source_location where_;
  bool training_ = true;
};

using ModulePtr = std::shared_ptr<Module>;

// All parameter and buffer specs of a module.
std::vector<ParamSpec> parameter_specs(const Module& m);
// Fresh tensors for every parameter and buffer, initialised deterministically from `seed`
// (each parameter draws from its own stream derived from the seed and its name).
TensorMap init_parameters(const Module& m, uint64_t seed);
int64_t count_parameters(const Module& m);  // trainable elements

class Conv2d final : public Module {
 public:
  Conv2d(std::string name, int64_t in_channels, int64_t out_channels, Hw kernel, Conv2dOptions opt = {},
         bool bias = true, DAGRAD_LOC);
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t in_, out_;
  Hw kernel_;
  Conv2dOptions opt_;
  bool bias_;
};

// A 1-D convolution (PyTorch's Conv1d): x [N, C, L] -> [N, out, L'], weight
// [out, C/groups, kernel], bias [out]; run as conv2d over [N, C, 1, L].
struct Conv1dOptions {
  int64_t stride = 1, padding = 0, dilation = 1, groups = 1;
};

class Conv1d final : public Module {
 public:
  Conv1d(std::string name, int64_t in_channels, int64_t out_channels, int64_t kernel, Conv1dOptions opt = {},
         bool bias = true, DAGRAD_LOC);
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t in_, out_, kernel_;
  Conv1dOptions opt_;
  bool bias_;
};

class Linear final : public Module {
 public:
  Linear(std::string name, int64_t in_features, int64_t out_features, bool bias = true, DAGRAD_LOC);
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t in_, out_;
  bool bias_;
};

// A lookup table (PyTorch's Embedding): int64 ids of any shape [...] -> [..., dim], rows of
// weight [num_embeddings, dim], initialised N(0, 1). The gradient is a deterministic
// scatter-add (gather_backward).
class Embedding final : public Module {
 public:
  Embedding(std::string name, int64_t num_embeddings, int64_t dim, DAGRAD_LOC);
  Value forward(Value ids) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t num_, dim_;
};

// A learned position embedding added to a sequence: x [N, length, dim] -> x + p with the
// parameter p [1, length, dim] named after the module itself (PyTorch's
// `self.pos_embedding = nn.Parameter(...)`), initialised N(0, 0.02²) as in torchvision's ViT.
class PositionEmbedding final : public Module {
 public:
  PositionEmbedding(std::string name, int64_t length, int64_t dim, double init_std = 0.02, DAGRAD_LOC);
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t length_, dim_;
  double init_std_;
};

class BatchNorm2d final : public Module {
 public:
  BatchNorm2d(std::string name, int64_t channels, double momentum = 0.1, double eps = 1e-5, DAGRAD_LOC);
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t channels_;
  double momentum_, eps_;
};

class Dropout final : public Module {
 public:
  // The mask seed comes from the name, so two dropout layers never share a mask.
  Dropout(std::string name, double p, DAGRAD_LOC);
  Value forward(Value x) override;

 private:
  double p_;
  uint64_t seed_;
};

// A stateless step: relu, flatten, pooling, log_softmax ...
class Lambda final : public Module {
 public:
  Lambda(std::string name, std::function<Value(Value)> fn, DAGRAD_LOC)
      : Module(std::move(name), loc), fn_(std::move(fn)) {}
  Value forward(Value x) override { return fn_(x); }

 private:
  std::function<Value(Value)> fn_;
};

class Sequential final : public Module {
 public:
  Sequential(std::string name, std::vector<ModulePtr> layers, DAGRAD_LOC)
      : Module(std::move(name), loc), layers_(std::move(layers)) {}
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;
  void train(bool on) override;
  const std::vector<ModulePtr>& layers() const { return layers_; }

 private:
  std::vector<ModulePtr> layers_;
};

// Shorthands that read like the model; each remembers the line it was called from.
ModulePtr conv2d(std::string name, int64_t in, int64_t out, Hw kernel, Conv2dOptions opt = {}, bool bias = true,
                 DAGRAD_LOC);
ModulePtr conv1d(std::string name, int64_t in, int64_t out, int64_t kernel, Conv1dOptions opt = {}, bool bias = true,
                 DAGRAD_LOC);
ModulePtr linear(std::string name, int64_t in, int64_t out, bool bias = true, DAGRAD_LOC);
ModulePtr embedding(std::string name, int64_t num_embeddings, int64_t dim, DAGRAD_LOC);
ModulePtr position_embedding(std::string name, int64_t length, int64_t dim, DAGRAD_LOC);
ModulePtr batch_norm2d(std::string name, int64_t channels, DAGRAD_LOC);
ModulePtr dropout(std::string name, double p, DAGRAD_LOC);
ModulePtr relu(DAGRAD_LOC);
ModulePtr flatten(int64_t start_dim = 1, DAGRAD_LOC);
ModulePtr max_pool2d(Pool2dOptions opt, DAGRAD_LOC);
ModulePtr avg_pool2d(Pool2dOptions opt, DAGRAD_LOC);
ModulePtr log_softmax(int64_t axis = -1, DAGRAD_LOC);
ModulePtr gelu(DAGRAD_LOC);

#undef DAGRAD_LOC

}  // namespace dagrad::nn
