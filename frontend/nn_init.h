// Helpers the nn modules share (frontend/nn*.cpp): parameter names and PyTorch's default
// initialisers. Not part of the public API.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "runtime/rng.h"
#include "runtime/tensor.h"

namespace dagrad::nn::detail {

using Init = std::function<void(Tensor&, Generator&)>;

// "a.b" (or "b" when a is empty): a parameter's name under its module.
std::string join(const std::string& a, const char* b);
// FNV-1a of a name: per-module seeds (dropout masks) that differ between modules.
uint64_t name_hash(const std::string& s);
// PyTorch's default for conv and linear layers: kaiming_uniform_(a=sqrt(5)) for the
// weight and U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for the bias, i.e. both uniform with
// bound 1/sqrt(fan_in).
Init uniform_fan_in(int64_t fan_in);
// xavier_uniform_: U(±sqrt(6 / (fan_in + fan_out))).
Init xavier_uniform(int64_t fan_in, int64_t fan_out);
Init constant(double v);
Init normal(double stddev);

}  // namespace dagrad::nn::detail
