// Small, learnable MNIST-shaped data for training tests: each class is a distinct shape
// (bars, boxes, crosses, ...) drawn at a random offset with noise.
#pragma once
#include "frontend/data/mnist.h"

namespace dagrad::testing {

MnistDataset synthetic_digits(int64_t n, uint64_t seed, int classes = 10);

}  // namespace dagrad::testing
