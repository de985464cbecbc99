// Normalisation modules over features (PyTorch's LayerNorm and GroupNorm), built on the
// fused layer_norm op (ops/ops.h). Batch norm lives in frontend/nn.h.
#pragma once
#include <vector>

#include "frontend/nn.h"

namespace dagrad::nn {

// Normalises x [..., *normalized_shape] over its trailing dims equal to normalized_shape
// (mean 0, variance 1, eps added to the variance), then scales by weight and shifts by
// bias (both [*normalized_shape], initialised 1 and 0) when elementwise_affine is on.
// Output: x's shape.
class LayerNorm final : public Module {
 public:
  LayerNorm(std::string name, std::vector<int64_t> normalized_shape, double eps = 1e-5, bool elementwise_affine = true,
            bool bias = true, std::source_location loc = std::source_location::current());
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  std::vector<int64_t> shape_;
  double eps_;
  bool affine_, bias_;
};

// Splits the channels of x [N, C, *] into num_groups groups and normalises each (sample,
// group) over its channels and positions; then per-channel weight [C] and bias [C]
// (1 and 0) when affine. Output: x's shape.
class GroupNorm final : public Module {
 public:
  GroupNorm(std::string name, int64_t num_groups, int64_t num_channels, double eps = 1e-5, bool affine = true,
            std::source_location loc = std::source_location::current());
  Value forward(Value x) override;
  void collect(std::vector<ParamSpec>& out) const override;

 private:
  int64_t groups_, channels_;
  double eps_;
  bool affine_;
};

ModulePtr layer_norm(std::string name, int64_t dim, std::source_location loc = std::source_location::current());
ModulePtr group_norm(std::string name, int64_t num_groups, int64_t num_channels,
                     std::source_location loc = std::source_location::current());

}  // namespace dagrad::nn
