// Writes a tiny MNIST-style data set for the command-line tests: 64 training images
// (one step per epoch at the default batch of 64) and 40 test images, as IDX files.
// Usage: make_tiny_mnist DIR
#include <cstdio>
#include <filesystem>

#include "frontend/data/idx.h"
#include "runtime/error.h"
#include "tests/train/synthetic_data.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  try {
    const std::filesystem::path dir = argv[1];
    std::filesystem::create_directories(dir);
    const dagrad::MnistDataset train = dagrad::testing::synthetic_digits(64, 1);
    const dagrad::MnistDataset test = dagrad::testing::synthetic_digits(40, 2);
    dagrad::write_idx(dir / "train-images-idx3-ubyte", train.images());
    dagrad::write_idx(dir / "train-labels-idx1-ubyte", train.labels());
    dagrad::write_idx(dir / "t10k-images-idx3-ubyte", test.images());
    dagrad::write_idx(dir / "t10k-labels-idx1-ubyte", test.labels());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_tiny_mnist: %s\n", e.what());
    return 1;
  }
  return 0;
}
