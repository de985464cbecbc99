// bfloat16 and float16 conversions (runtime/float16.h) against a reference that shares
// no code with them: every finite value of the format listed as an exact double, the
// nearest found by search, ties to the even bit pattern, infinity as the value after the
// largest finite one. Covers ties, subnormals, overflow, NaN payloads and double inputs
// that float would round twice.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "runtime/convert.h"
#include "runtime/float16.h"
#include "runtime/rng.h"

using namespace dagrad;

namespace {

struct Format {
  int man, exp;
  // The value of a non-negative, non-NaN bit pattern, exactly.
  double value(uint16_t bits) const {
    const int e = bits >> man, m = bits & ((1 << man) - 1), bias = (1 << (exp - 1)) - 1;
    if (e == (1 << exp) - 1) return std::numeric_limits<double>::infinity();
    if (e == 0) return std::ldexp(m, 1 - bias - man);
    return std::ldexp((1 << man) + m, e - bias - man);
  }
  uint16_t inf_bits() const { return static_cast<uint16_t>(((1 << exp) - 1) << man); }
  uint16_t sign_bit() const { return static_cast<uint16_t>(1u << (man + exp)); }
};

constexpr Format kBf16{7, 8}, kF16{10, 5};

// Round-to-nearest-even by search over the format's non-negative values.
class Reference {
 public:
  explicit Reference(Format f) : f_(f) {
    for (uint16_t b = 0; b < f.inf_bits(); ++b) values_.push_back(f.value(b));
    // Past the largest finite value comes 2^(emax+1), standing for infinity; its pattern
    // (the infinity's) is even, so the midpoint below it rounds up to infinity.
    values_.push_back(std::ldexp(1.0, (1 << (f.exp - 1))));
  }
  uint16_t round(double x) const {
    const uint16_t sign = std::signbit(x) ? f_.sign_bit() : 0;
    const double a = std::abs(x);
    if (std::isinf(a) || a >= values_.back()) return sign | f_.inf_bits();
    auto hi = std::lower_bound(values_.begin(), values_.end(), a);
    if (*hi == a) return sign | static_cast<uint16_t>(hi - values_.begin());
    auto lo = hi - 1;
    const double dlo = a - *lo, dhi = *hi - a;
    uint16_t pick = static_cast<uint16_t>(dlo < dhi ? lo - values_.begin() : hi - values_.begin());
    if (dlo == dhi) pick = static_cast<uint16_t>((lo - values_.begin()) % 2 == 0 ? lo - values_.begin() : hi - values_.begin());
    return sign | pick;
  }

 private:
  Format f_;
  std::vector<double> values_;
};

uint16_t bf16_of(double x) { return double_to_bf16_bits(x); }
uint16_t bf16_of(float x) { return float_to_bf16_bits(x); }
uint16_t f16_of(double x) { return double_to_f16_bits(x); }
uint16_t f16_of(float x) { return float_to_f16_bits(x); }

// Inputs that probe the rounding: random floats of every magnitude, exact midpoints
// between neighbours and values a hair on either side of them, around the subnormal
// range and the overflow threshold.
std::vector<double> probes(Format f, const Reference&) {
  std::vector<double> xs = {0.0, -0.0, 1.0, -1.0, 3.0, 1.0 / 3, 65504.0, 65519.99, 65520.0, 65536.0, 1e-8, 1e-40,
                            1e-45, 3.3895313892515355e38, 3.3961775292304611e38, 3.4028234663852886e38};
  for (uint16_t b = 0; b + 1 < f.inf_bits(); b += 7) {
    const double lo = f.value(b), hi = f.value(static_cast<uint16_t>(b + 1)), mid = (lo + hi) / 2;
    xs.insert(xs.end(), {lo, mid, std::nextafter(mid, 0.0), std::nextafter(mid, 1e300), -mid});
  }
  // The midpoint above the largest finite value, and around it.
  const double max = f.value(static_cast<uint16_t>(f.inf_bits() - 1));
  const double top = (max + std::ldexp(1.0, 1 << (f.exp - 1))) / 2;
  xs.insert(xs.end(), {top, std::nextafter(top, 0.0), std::nextafter(top, 1e300), -top});
  for (uint64_t i = 0; i < 200000; ++i) {
    const uint32_t bits = static_cast<uint32_t>(random_bits(17, i));
    const float x = std::bit_cast<float>(bits);
    if (!std::isnan(x)) xs.push_back(x);
  }
  return xs;
}

}  // namespace

TEST(Float16, BFloat16RoundsToNearestEvenFromFloatAndDouble) {
  const Reference ref(kBf16);
  int checked = 0;
  for (double x : probes(kBf16, ref)) {
    ASSERT_EQ(bf16_of(x), ref.round(x)) << "double " << x;
    const float xf = static_cast<float>(x);
    if (static_cast<double>(xf) == x || std::isinf(xf)) {
      ASSERT_EQ(bf16_of(xf), ref.round(static_cast<double>(xf))) << "float " << xf;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150000);
}

TEST(Float16, Float16RoundsToNearestEvenFromFloatAndDouble) {
  const Reference ref(kF16);
  for (double x : probes(kF16, ref)) {
    ASSERT_EQ(f16_of(x), ref.round(x)) << "double " << x;
    const float xf = static_cast<float>(x);
    ASSERT_EQ(f16_of(xf), ref.round(static_cast<double>(xf))) << "float " << xf;
  }
}

TEST(Float16, EdgeCasesByValue) {
  // Ties: 1 + 2^-8 lies halfway between bfloat16 1 and 1 + 2^-7 and goes to the even 1;
  // 1 + 3·2^-8 goes up to 1 + 2^-6.
  EXPECT_EQ(bf16_of(1.0f + 0x1p-8f), 0x3f80);
  EXPECT_EQ(bf16_of(1.0f + 3 * 0x1p-8f), 0x3f82);
  // Rounded once from double: just above the tie rounds up, although float would have
  // rounded it to the tie itself and then to even.
  EXPECT_EQ(bf16_of(1.0 + 0x1p-8 + 0x1p-40), 0x3f81);
  EXPECT_EQ(bf16_of(static_cast<float>(1.0 + 0x1p-8 + 0x1p-40)), 0x3f80);
  // Subnormals: float16's smallest is 2^-24; half of it ties to zero, a bit more rounds up.
  EXPECT_EQ(f16_of(0x1p-24f), 0x0001);
  EXPECT_EQ(f16_of(0x1p-25f), 0x0000);
  EXPECT_EQ(f16_of(0x1.000002p-25f), 0x0001);
  EXPECT_EQ(f16_of(-0x1p-25f), 0x8000);  // the sign of a zero survives
  EXPECT_EQ(f16_of(0x1.ffcp-15f), 0x0400);  // the largest subnormal rounds up into the smallest normal
  EXPECT_EQ(bf16_of(0x1p-133f), 0x0001);   // bfloat16's smallest subnormal is float's 2^-133
  EXPECT_EQ(f16_bits_to_float(0x0001), 0x1p-24f);
  EXPECT_EQ(bf16_bits_to_float(0x0001), 0x1p-133f);
  // Overflow: 65504 is float16's largest; from the midpoint 65520 on it is infinity.
  EXPECT_EQ(f16_of(65504.0f), 0x7bff);
  EXPECT_EQ(f16_of(65519.0f), 0x7bff);
  EXPECT_EQ(f16_of(65520.0f), 0x7c00);
  EXPECT_EQ(f16_of(-1e10f), 0xfc00);
  EXPECT_EQ(bf16_of(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(bf16_of(std::numeric_limits<double>::max()), 0x7f80);
  EXPECT_EQ(bf16_of(-std::numeric_limits<float>::infinity()), 0xff80);
}

TEST(Float16, NaNsStayNaNsWithSignAndTopPayloadQuieted) {
  // A signalling NaN whose payload lies only in float's low bits would truncate to an
  // infinity: the quiet bit keeps it a NaN.
  const float snan_low = std::bit_cast<float>(0x7f800001u);
  EXPECT_EQ(bf16_of(snan_low), 0x7fc0);
  EXPECT_EQ(f16_of(snan_low), 0x7e00);
  const float neg_payload = std::bit_cast<float>(0xffa5a000u);  // sign, payload 0x25a000
  EXPECT_EQ(bf16_of(neg_payload), 0xffe5);
  EXPECT_EQ(f16_of(neg_payload), 0xfe00 | (0x25a000u >> 13));
  EXPECT_EQ(bf16_of(std::bit_cast<double>(0x7ff4000000000000ull)), 0x7fe0);
  EXPECT_TRUE(std::isnan(bf16_bits_to_float(0x7fc1)));
  EXPECT_EQ(std::bit_cast<uint32_t>(f16_bits_to_float(0xfe01)), 0xffc02000u);  // payload kept on the way up
}

TEST(Float16, EveryPatternSurvivesTheRoundTripThroughFloat) {
  for (uint32_t b = 0; b < 65536; ++b) {
    const uint16_t h = static_cast<uint16_t>(b);
    const float fb = bf16_bits_to_float(h), fh = f16_bits_to_float(h);
    // NaNs come back quieted (the quiet bit set); everything else exactly.
    const uint16_t want_b = std::isnan(fb) ? static_cast<uint16_t>(h | 0x40) : h;
    const uint16_t want_h = std::isnan(fh) ? static_cast<uint16_t>(h | 0x200) : h;
    ASSERT_EQ(bf16_of(fb), want_b) << std::hex << b;
    ASSERT_EQ(f16_of(fh), want_h) << std::hex << b;
    ASSERT_EQ(bf16_of(static_cast<double>(fb)), want_b) << std::hex << b;
    ASSERT_EQ(f16_of(static_cast<double>(fh)), want_h) << std::hex << b;
  }
}

TEST(Convert, FloatToIntegerTruncatesSaturatesAndMapsNaNToZero) {
  EXPECT_EQ(convert<int32_t>(-2.9), -2);
  EXPECT_EQ(convert<int32_t>(2.9f), 2);
  EXPECT_EQ(convert<int8_t>(1000.0), 127);
  EXPECT_EQ(convert<int8_t>(-1000.0f), -128);
  EXPECT_EQ(convert<int8_t>(127.9), 127);
  EXPECT_EQ(convert<uint8_t>(-3.5), 0);
  EXPECT_EQ(convert<uint8_t>(255.5), 255);
  EXPECT_EQ(convert<int64_t>(1e30), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(convert<int64_t>(-std::numeric_limits<double>::infinity()), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(convert<uint64_t>(1.8446744073709552e19), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(convert<int32_t>(std::nan("")), 0);
  EXPECT_EQ(convert<uint16_t>(bfloat16(70000.0f)), 65535);
  EXPECT_EQ(convert<int16_t>(float16(-3.75f)), -3);
}

TEST(Convert, IntegersWrapBoolsAreZeroOrOneAndNaNIsTrue) {
  EXPECT_EQ(convert<int8_t>(int32_t{300}), 44);
  EXPECT_EQ(convert<uint8_t>(int64_t{-1}), 255);
  EXPECT_EQ(convert<int32_t>(uint32_t{0xffffffffu}), -1);
  EXPECT_EQ(convert<uint64_t>(int8_t{-2}), std::numeric_limits<uint64_t>::max() - 1);
  EXPECT_TRUE(convert<bool>(int64_t{-5}));
  EXPECT_FALSE(convert<bool>(0.0));
  EXPECT_FALSE(convert<bool>(-0.0f));
  EXPECT_TRUE(convert<bool>(std::nan("")));
  EXPECT_TRUE(convert<bool>(bfloat16(0.5f)));
  EXPECT_FALSE(convert<bool>(float16(0.0f)));
  EXPECT_EQ(convert<float>(true), 1.0f);
  EXPECT_EQ(convert<int64_t>(true), 1);
  EXPECT_EQ(convert<bfloat16>(true).bits, 0x3f80);
}

TEST(Convert, IntegersToSixteenBitFloatsRoundOnce) {
  // 2^62 + 2^54 + 1 lies just above the tie between bfloat16 neighbours 2^62 and
  // 2^62 + 2^55: it must round up. Through double (2^62 + 2^54, the tie) it would go to
  // the even 2^62.
  const int64_t v = (int64_t{1} << 62) + (int64_t{1} << 54) + 1;
  EXPECT_EQ(convert<bfloat16>(v).bits, double_to_bf16_bits(0x1.02p62));
  EXPECT_EQ(convert<bfloat16>(int64_t{1} << 62).bits, 0x5e80);
  EXPECT_EQ(convert<bfloat16>(-v).bits, double_to_bf16_bits(-0x1.02p62));
  EXPECT_EQ(convert<float16>(int32_t{65520}).bits, 0x7c00);
  EXPECT_EQ(convert<float16>(uint64_t{2049}).bits, 0x6800);  // 2049 ties between 2048 and 2050: even
  EXPECT_EQ(convert<float>(convert<bfloat16>(uint16_t{257})), 256.0f);  // a tie: to the even 256
  // Between the 16-bit types: through float, exactly, then rounded once.
  EXPECT_EQ(convert<float16>(bfloat16(1.0f + 0x1p-7f)).bits, 0x3c08);
  EXPECT_EQ(convert<bfloat16>(float16::from_bits(0x3c01)).bits, 0x3f80);
}
