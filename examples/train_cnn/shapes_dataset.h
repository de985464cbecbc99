// A data set made up on the spot: 28×28 grey images of ten shapes (bars, a box, a cross,
// ...), each drawn at a random offset with noise. Stored as bytes like MNIST and
// normalised with MNIST's constants, so `dagrad eval --data` (which reads IDX files and
// normalises them that way) sees exactly what training saw.
#pragma once
#include <dagrad/dagrad.h>

#include <filesystem>
#include <span>
#include <string>

class ShapesDataset final : public dagrad::Dataset {
 public:
  // n images, class i % 10 for image i; the same seed gives the same images.
  ShapesDataset(int64_t n, uint64_t seed);

  int64_t size() const override { return images_.shape()[0]; }
  // input: images float32 [B,1,28,28]; target: labels int64 [B]. Reads only: the
  // loader calls it from its prefetch thread.
  dagrad::Batch gather(std::span<const int64_t> indices) const override;
  // The graph inputs they are bound to.
  dagrad::SampleNames names() const override { return {"images", "labels"}; }

  // Writes the split as MNIST's IDX files in `dir` (split "train" or "t10k").
  void write_idx(const std::filesystem::path& dir, const std::string& split) const;

 private:
  dagrad::Tensor images_;  // uint8 [N,28,28]
  dagrad::Tensor labels_;  // uint8 [N]
};
