// What a DataLoader draws batches from: a fixed number of samples, gathered by index.
// A sample is the model's input and its target; the data set names both, and those
// names are the graph inputs the Trainer binds them to.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "runtime/tensor.h"

namespace dagrad {

// A batch of B samples: the model's input and the targets its output is compared with,
// both with leading dimension B.
struct Batch {
  Tensor input;   // e.g. images, float32 [B,C,H,W]
  Tensor target;  // e.g. class ids, int64 [B], or values, float32 [B,K]
  int64_t index = 0;  // position of this batch within its epoch
};

// The graph-input names of a batch's two tensors.
struct SampleNames {
  std::string input;
  std::string target;
  bool operator==(const SampleNames&) const = default;
};

class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // The samples at `indices` (each in [0, size())), in that order. Called from the
  // loader's prefetch thread, so it must not modify shared state; it may throw.
  virtual Batch gather(std::span<const int64_t> indices) const = 0;
  // What the input and the target are called in the graphs trained on this data.
  virtual SampleNames names() const = 0;
};

}  // namespace dagrad
