#include "shapes_dataset.h"

ShapesDataset::ShapesDataset(int64_t n, uint64_t seed)
    : images_(dagrad::Tensor::zeros(dagrad::Shape{n, 28, 28}, dagrad::DType::u8)),
      labels_(dagrad::Tensor::empty(dagrad::Shape{n}, dagrad::DType::u8)) {
  uint64_t draw = 0;  // Philox counter: every draw is a pure function of (seed, draw)
  auto rnd = [&](uint32_t k) { return static_cast<int>(dagrad::random_bits(seed, draw++) % k); };
  for (int64_t i = 0; i < n; ++i) {
    const int c = static_cast<int>(i % 10);
    labels_.data<uint8_t>()[i] = static_cast<uint8_t>(c);
    uint8_t* img = images_.data<uint8_t>() + i * 28 * 28;
    auto ink = [&](int y, int x) {
      if (y >= 0 && y < 28 && x >= 0 && x < 28) img[y * 28 + x] = static_cast<uint8_t>(190 + rnd(66));
    };
    const int y0 = 4 + rnd(5), x0 = 4 + rnd(5);
    for (int a = 0; a < 16; ++a) {
      switch (c) {
        case 0: ink(y0 + a, x0 + 8); break;                                 // |
        case 1: ink(y0 + 8, x0 + a); break;                                 // -
        case 2: ink(y0 + a, x0 + a); break;                                 // backslash
        case 3: ink(y0 + a, x0 + 15 - a); break;                            // /
        case 4: ink(y0 + a, x0 + 8), ink(y0 + 8, x0 + a); break;            // +
        case 5: ink(y0, x0 + a), ink(y0 + 15, x0 + a), ink(y0 + a, x0), ink(y0 + a, x0 + 15); break;  // box
        case 6: ink(y0 + a, x0), ink(y0 + a, x0 + 15); break;               // ||
        case 7: ink(y0, x0 + a), ink(y0 + 15, x0 + a); break;               // =
        case 8: ink(y0 + a, x0 + a), ink(y0 + a, x0 + 15 - a); break;       // x
        default: ink(y0 + 15, x0 + a), ink(y0 + a, x0); break;              // L
      }
    }
    for (int p = 0; p < 30; ++p) img[rnd(28 * 28)] = static_cast<uint8_t>(rnd(100));  // noise
  }
}

dagrad::Batch ShapesDataset::gather(std::span<const int64_t> indices) const {
  const auto b = static_cast<int64_t>(indices.size());
  const dagrad::Normalization norm = dagrad::Normalization::mnist();
  dagrad::Batch batch;
  batch.input = dagrad::Tensor::empty(dagrad::Shape{b, 1, 28, 28}, dagrad::DType::f32);
  batch.target = dagrad::Tensor::empty(dagrad::Shape{b}, dagrad::DType::i64);
  float* x = batch.input.data<float>();
  int64_t* y = batch.target.data<int64_t>();
  for (int64_t k = 0; k < b; ++k) {
    const uint8_t* img = images_.data<uint8_t>() + indices[k] * 28 * 28;
    for (int p = 0; p < 28 * 28; ++p)
      x[k * 28 * 28 + p] = static_cast<float>((img[p] / 255.0 - norm.mean) / norm.std);
    y[k] = labels_.data<uint8_t>()[indices[k]];
  }
  return batch;
}

void ShapesDataset::write_idx(const std::filesystem::path& dir, const std::string& split) const {
  std::filesystem::create_directories(dir);
  dagrad::write_idx(dir / (split + "-images-idx3-ubyte"), images_);
  dagrad::write_idx(dir / (split + "-labels-idx1-ubyte"), labels_);
}
