#include <gtest/gtest.h>

#include "runtime/dtype.h"
#include "runtime/shape.h"

using namespace dagrad;

TEST(DType, SizesAndNames) {
  EXPECT_EQ(dtype_size(DType::f32), 4u);
  EXPECT_EQ(dtype_size(DType::f64), 8u);
  EXPECT_EQ(dtype_size(DType::i32), 4u);
  EXPECT_EQ(dtype_size(DType::i64), 8u);
  EXPECT_EQ(dtype_size(DType::u8), 1u);
  EXPECT_EQ(parse_dtype("float32"), DType::f32);
  EXPECT_EQ(parse_dtype("f64"), DType::f64);
  EXPECT_EQ(parse_dtype("u8"), DType::u8);
  EXPECT_EQ(parse_dtype("int64"), DType::i64);
  EXPECT_THROW(parse_dtype("float8"), ValueError);
  EXPECT_TRUE(is_floating(DType::f64));
  EXPECT_FALSE(is_floating(DType::i32));
  EXPECT_FALSE(is_floating(DType::bf16));  // dispatch_floating's types only
  EXPECT_TRUE(is_float(DType::bf16));
  EXPECT_TRUE(is_half(DType::f16));
  EXPECT_TRUE(is_integral(DType::boolean));
}

TEST(DType, EveryDtypeHasASizeANameAndParsesBack) {
  EXPECT_EQ(std::size(kAllDTypes), 13u);
  for (DType t : kAllDTypes) {
    EXPECT_EQ(parse_dtype(dtype_name(t)), t);
    EXPECT_EQ(parse_dtype(dtype_short_name(t)), t);
    EXPECT_EQ(dispatch_all(t, []<class T>() { return sizeof(T); }), dtype_size(t)) << dtype_name(t);
    EXPECT_EQ(dispatch_all(t, []<class T>() { return dtype_of<T>(); }), t);
  }
  EXPECT_EQ(parse_dtype("bfloat16"), DType::bf16);
  EXPECT_EQ(parse_dtype("bf16"), DType::bf16);
  EXPECT_EQ(parse_dtype("float16"), DType::f16);
  EXPECT_EQ(parse_dtype("bool"), DType::boolean);
  EXPECT_EQ(parse_dtype("u64"), DType::u64);
  EXPECT_EQ(dtype_size(DType::bf16), 2u);
  EXPECT_EQ(dtype_size(DType::boolean), 1u);
  try {
    parse_dtype("half");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("unknown dtype 'half' (expected one of float32, float64, bfloat16"),
              std::string::npos)
        << e.what();
  }
}

TEST(DType, DispatchFamilies) {
  auto name = [](DType t) { return dispatch_float(t, "test", []<class T>() { return dtype_name(dtype_of<T>()); }); };
  EXPECT_EQ(name(DType::bf16), "bfloat16");
  EXPECT_EQ(name(DType::f64), "float64");
  EXPECT_THROW(name(DType::i8), TypeError);
  auto bits = [](DType t) { return dispatch_integral(t, "test", []<class T>() { return sizeof(T) * 8; }); };
  EXPECT_EQ(bits(DType::u16), 16u);
  EXPECT_EQ(bits(DType::boolean), 8u);
  try {
    bits(DType::f16);
    FAIL();
  } catch (const TypeError& e) {
    EXPECT_STREQ(e.what(), "[test] expects bool or an integer dtype, got float16");
  }
}

TEST(DType, DispatchFloatingRejectsIntegers) {
  auto size = [](DType t) { return dispatch_floating(t, "test", []<class T>() { return sizeof(T); }); };
  EXPECT_EQ(size(DType::f32), 4u);
  EXPECT_EQ(size(DType::f64), 8u);
  try {
    size(DType::i32);
    FAIL() << "expected TypeError";
  } catch (const TypeError& e) {
    EXPECT_STREQ(e.what(), "[test] expects float32 or float64, got int32");
  }
}

TEST(Shape, NumelStridesAndAxes) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.strides(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(s.dim(-1), 4);
  EXPECT_EQ(s.axis(-3, "t"), 0);
  EXPECT_THROW(s.axis(3, "t"), ShapeError);
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ((Shape{5, 0}).numel(), 0);
  EXPECT_EQ(s.to_string(), "[2,3,4]");
  EXPECT_THROW(Shape({2, -1}), ShapeError);
  // A count past int64_t is refused, even before a zero that would make it 0.
  EXPECT_THROW(Shape({int64_t{1} << 40, int64_t{1} << 40}), ShapeError);
  EXPECT_THROW(Shape({int64_t{1} << 40, int64_t{1} << 40, 0}), ShapeError);
  EXPECT_EQ((Shape{int64_t{1} << 40, 0, int64_t{1} << 20}).numel(), 0);
}

TEST(Shape, Broadcasting) {
  EXPECT_EQ(broadcast_shapes(Shape{4, 1, 3}, Shape{5, 1}), (Shape{4, 5, 3}));
  EXPECT_EQ(broadcast_shapes(Shape{}, Shape{2, 2}), (Shape{2, 2}));
  try {
    broadcast_shapes(Shape{2, 3}, Shape{4}, "add");
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("[add] shapes [2,3] and [4] cannot be broadcast"), std::string::npos)
        << e.what();
  }
}
