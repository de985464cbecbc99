// Reference cases of cast: pairs of dtypes over values that exercise rounding into the
// 16-bit floats, saturation into integers, integer wrap-around and bools. The expected
// values come from convert<> (runtime/convert.h), whose rounding is checked against an
// independent reference in tests/runtime/float16_test.cpp; here the op's plumbing is
// checked on every backend: shapes, dtypes, threading, every element.
#include "op_cases.h"
#include "ops/params/cast.h"
#include "ops/param_codec.h"
#include "runtime/convert.h"

namespace dagrad::testing {

namespace {

// Larger than several parallel grains and not a multiple of 16.
constexpr int64_t kLarge = 60013;

OpCase cast_case(Tensor x, DType to) {
  OpCase c;
  c.label = str_cat(dtype_name(x.dtype()), " ", x.shape().to_string(), " to ", dtype_name(to));
  c.attrs = encode_params(CastParams{to});
  c.tol = 0;
  c.inputs = {x};
  c.reference = [to](const std::vector<Tensor>& in, const Attrs&) {
    const Tensor& src = in[0];
    Tensor want = Tensor::empty(src.shape(), to);
    dispatch_all(src.dtype(), [&]<class S>() {
      dispatch_all(to, [&]<class D>() {
        for (int64_t i = 0; i < src.numel(); ++i) want.data<D>()[i] = convert<D>(src.data<S>()[i]);
      });
    });
    return std::vector<Tensor>{want};
  };
  // The gradient check runs in float64 from float32/float64 inputs and needs a float64
  // output to weigh: only those casts qualify (tests/autograd checks the vjp across dtypes).
  c.skip_grad = to != DType::f64 || !is_floating(x.dtype()) || x.numel() > 1000;
  return c;
}

Tensor ints(const Shape& s, DType t, int64_t lo, int64_t hi, uint64_t seed) {
  Tensor x = Tensor::empty(s, DType::i64);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const uint64_t r = uint64_t{random_bits(seed, 2 * static_cast<uint64_t>(i))} << 32 | random_bits(seed, 2 * static_cast<uint64_t>(i) + 1);
    // In uint64_t: hi - lo may exceed int64_t's range (the result is converted back modulo 2^64).
    const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo) + 1;
    x.data<int64_t>()[i] = static_cast<int64_t>(static_cast<uint64_t>(lo) + r % span);
  }
  return x.to_dtype(t);
}

}  // namespace

// First (the generic fusion and code-generation tests take the first generator's cases):
// casts within float32's compute type, which fuse.
DAGRAD_OP_CASES("cast") {
  return {
      cast_case(random_tensor(Shape{3, 7}, DType::f32, 61, -300, 300), DType::bf16),
      cast_case(random_tensor(Shape{13}, DType::f32, 62, -2, 2).to_dtype(DType::bf16), DType::f32),
      cast_case(random_tensor(Shape{2, 9}, DType::f32, 63, -70000, 70000), DType::f16),  // overflows too
      cast_case(random_tensor(Shape{4, 5}, DType::f32, 64, -2, 2).to_dtype(DType::f16), DType::bf16),
  };
}

DAGRAD_OP_CASES("cast") {
  return {
      cast_case(random_tensor(Shape{3, 7}, DType::f32, 71, -2, 2), DType::f64),
      cast_case(random_tensor(Shape{2, 3}, DType::f64, 72, -2, 2), DType::f64),
      cast_case(random_tensor(Shape{2, kLarge}, DType::f32, 73, -300, 300), DType::bf16),
      cast_case(random_tensor(Shape{5, 9}, DType::f64, 74, -60000, 60000), DType::f16),
      cast_case(random_tensor(Shape{4, 4}, DType::f32, 75, -1e-6, 1e-6, false), DType::f16),  // subnormals
      cast_case(random_tensor(Shape{17}, DType::f32, 76, -2, 2).to_dtype(DType::bf16), DType::f32),
      cast_case(random_tensor(Shape{17}, DType::f32, 77, -2, 2).to_dtype(DType::f16), DType::f64),
      cast_case(random_tensor(Shape{6}, DType::f32, 78, -2, 2).to_dtype(DType::f16), DType::bf16),
      cast_case(random_tensor(Shape{3, 11}, DType::f32, 79, -3e9, 3e9), DType::i32),  // saturates
      cast_case(random_tensor(Shape{3, 11}, DType::f64, 80, -300, 300), DType::u8),
      cast_case(random_tensor(Shape{2, kLarge}, DType::f32, 81, -2, 2, false), DType::boolean),
      cast_case(ints(Shape{13}, DType::i64, -(int64_t{1} << 62), int64_t{1} << 62, 82), DType::bf16),
      cast_case(ints(Shape{13}, DType::i64, -100000, 100000, 83), DType::f32),
      cast_case(ints(Shape{9}, DType::i32, -70000, 70000, 84), DType::i16),  // wraps
      cast_case(ints(Shape{9}, DType::u8, 0, 255, 85), DType::i8),
      cast_case(ints(Shape{9}, DType::i8, -128, 127, 86), DType::u64),
      cast_case(ints(Shape{9}, DType::boolean, 0, 1, 87), DType::f32),
      cast_case(ints(Shape{2, kLarge}, DType::u16, 0, 65535, 88), DType::f16),
      cast_case(ints(Shape{9}, DType::u32, 0, 4000000000, 89), DType::u64),
      cast_case(ints(Shape{}, DType::i16, -5, 5, 90), DType::boolean),
  };
}

}  // namespace dagrad::testing
