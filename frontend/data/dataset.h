// What a DataLoader draws batches from: a fixed number of samples, gathered by index.
#pragma once
#include <cstdint>
#include <span>

#include "runtime/tensor.h"

namespace dagrad {

// A training batch: inputs and integer class labels of the same leading size B.
struct Batch {
  Tensor images;  // float32 [B, C, H, W], normalised
  Tensor labels;  // int64 [B]
  int64_t index = 0;  // position of this batch within its epoch
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The samples at `indices` (each in [0, size())), in that order. Called from the
  // loader's prefetch thread, so it must not modify shared state; it may throw.
  virtual Batch gather(std::span<const int64_t> indices) const = 0;
};

}  // namespace dagrad
