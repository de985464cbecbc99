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
  EXPECT_THROW(parse_dtype("float16"), ValueError);
  EXPECT_TRUE(is_floating(DType::f64));
  EXPECT_FALSE(is_floating(DType::i32));
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
