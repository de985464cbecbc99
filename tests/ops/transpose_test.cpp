// The 32-bit transpose (AVX-512 16x16 blocks plus scalar edges) against the plain loop,
// on sizes around the block size and with strides wider than the block.
#include <gtest/gtest.h>

#include <vector>

#include "ops/cpu/transpose.h"

using namespace dagrad;

TEST(Transpose, MatchesThePlainLoopOnEverySizeAroundTheBlock) {
  for (int64_t rows : {1, 15, 16, 17, 32, 48, 50})
    for (int64_t cols : {1, 7, 16, 31, 48, 624}) {
      const int64_t ss = cols + 3, ds = rows + 5;
      std::vector<uint32_t> src(rows * ss), dst(cols * ds, 0xdeadbeef), want(cols * ds, 0xdeadbeef);
      for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<uint32_t>(i * 2654435761u);
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) want[c * ds + r] = src[r * ss + c];
      transpose_32bit(src.data(), ss, rows, cols, dst.data(), ds);
      ASSERT_EQ(dst, want) << rows << " x " << cols;  // untouched padding included
    }
}
