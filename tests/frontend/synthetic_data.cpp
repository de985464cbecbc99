#include "synthetic_data.h"

#include <algorithm>

#include "runtime/rng.h"

namespace dagrad::testing {

MnistDataset synthetic_digits(int64_t n, uint64_t seed, int classes) {
  Tensor images = Tensor::zeros(Shape{n, 28, 28}, DType::u8);
  Tensor labels = Tensor::empty(Shape{n}, DType::u8);
  uint64_t draw = 0;
  auto rnd = [&](int k) { return static_cast<int>(random_bits(seed, draw++) % static_cast<uint32_t>(k)); };
  for (int64_t i = 0; i < n; ++i) {
    int c = static_cast<int>(i % classes);
    labels.data<uint8_t>()[i] = static_cast<uint8_t>(c);
    uint8_t* img = images.data<uint8_t>() + i * 784;
    int ox = rnd(6), oy = rnd(6);
    auto set = [&](int y, int x) {
      if (y >= 0 && y < 28 && x >= 0 && x < 28) img[y * 28 + x] = static_cast<uint8_t>(200 + rnd(56));
    };
    for (int a = 0; a < 16; ++a) {
      int y = oy + 4, x = ox + 4;
      switch (c) {
        case 0: set(y + a, x + 8); break;                      // vertical bar
        case 1: set(y + 8, x + a); break;                      // horizontal bar
        case 2: set(y + a, x + a); break;                      // diagonal
        case 3: set(y + a, x + 15 - a); break;                 // anti-diagonal
        case 4: set(y + a, x + 8), set(y + 8, x + a); break;   // plus
        case 5: set(y, x + a), set(y + 15, x + a), set(y + a, x), set(y + a, x + 15); break;  // box
        case 6: set(y + a, x), set(y + a, x + 15); break;      // two bars
        case 7: set(y, x + a), set(y + a, x + 15 - a); break;  // "7"
        case 8: set(y + a, x + a), set(y + a, x + 15 - a); break;  // cross
        default: set(y + 15, x + a), set(y + a, x); break;     // "L"
      }
    }
    for (int p = 0; p < 20; ++p) img[rnd(784)] = static_cast<uint8_t>(rnd(120));  // noise
  }
  return MnistDataset(images, labels);
}

}  // namespace dagrad::testing
