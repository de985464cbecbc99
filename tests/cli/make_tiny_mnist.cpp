// Writes a tiny MNIST-style data set for the command-line tests: 64 training images
// (one step per epoch at the default batch of 64) and 40 test images, as IDX files, and
// test image 0 as digit.png (for `dagrad predict IMAGE`), and 8 test images as float32
// [8,1,28,28] "images" in images.safetensors (for `dagrad onnx run`). Usage: make_tiny_mnist DIR
#include <png.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "frontend/checkpoint/safetensors.h"
#include "frontend/data/idx.h"
#include "runtime/error.h"
#include "tests/frontend/synthetic_data.h"

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
    png_image png{};
    png.version = PNG_IMAGE_VERSION;
    png.format = PNG_FORMAT_GRAY;
    png.width = png.height = 28;
    if (!png_image_write_to_file(&png, (dir / "digit.png").c_str(), 0, test.images().data<uint8_t>(), 0, nullptr))
      throw dagrad::IoError(std::string("digit.png: ") + png.message);
    const dagrad::Batch eight = test.gather(std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7});
    dagrad::save_safetensors(dir / "images.safetensors", {{"images", eight.input}});
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_tiny_mnist: %s\n", e.what());
    return 1;
  }
  return 0;
}
