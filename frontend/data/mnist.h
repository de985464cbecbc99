// MNIST-style data sets (MNIST, Fashion-MNIST): uint8 images and labels read from the
// four standard IDX files of a directory, normalised on the way into a batch.
#pragma once
#include <filesystem>
#include <string_view>

#include "frontend/data/dataset.h"

namespace dagrad {

// Per-pixel affine map x -> (x/255 - mean) / std applied when a batch is made.
struct Normalization {
  double mean = 0.0;
  double std = 1.0;

  // The usual constants, computed over each set's 60,000 training images.
  static constexpr Normalization mnist() { return {0.1307, 0.3081}; }
  static constexpr Normalization fashion_mnist() { return {0.2860, 0.3530}; }
  // "mnist" or "fashion" (also "fashion-mnist", "fashion_mnist"); anything else is a ValueError.
  static Normalization named(std::string_view name);
};

// Mean and (population) standard deviation of all pixels of uint8 images, scaled to [0,1].
// Sequential double-precision sums, so the result never depends on the thread count.
Normalization compute_normalization(const Tensor& images);

class MnistDataset : public Dataset {
 public:
  // Finds the split's files in `dir`: for "train" train-images-idx3-ubyte and
  // train-labels-idx1-ubyte, for "test" t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte,
  // each also as `.gz` and in the dotted spelling some downloads use
  // (train-images.idx3-ubyte). Throws IoError listing the names it looked for.
  static MnistDataset load(const std::filesystem::path& dir, std::string_view split = "train",
                           Normalization norm = Normalization::mnist());

  // From tensors already in memory: images uint8 [N,H,W], labels uint8 [N] in 0..9.
  MnistDataset(Tensor images, Tensor labels, Normalization norm = Normalization::mnist());

  int64_t size() const override { return images_.shape()[0]; }
  int64_t rows() const { return images_.shape()[1]; }
  int64_t cols() const { return images_.shape()[2]; }
  const Tensor& images() const { return images_; }  // uint8 [N,H,W]
  const Tensor& labels() const { return labels_; }  // uint8 [N]
  const Normalization& normalization() const { return norm_; }

  // input: images float32 [B,1,H,W] = (pixel/255 - mean)/std, rounded once from double;
  // target: labels int64 [B].
  Batch gather(std::span<const int64_t> indices) const override;
  SampleNames names() const override { return sample_names(); }
  // "images" and "labels": the graph inputs of the built-in models' training step.
  static SampleNames sample_names() { return {"images", "labels"}; }

 private:
  Tensor images_, labels_;
  Normalization norm_;
  float table_[256];  // the normalised value of each pixel byte
};

}  // namespace dagrad
