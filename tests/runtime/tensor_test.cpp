#include <gtest/gtest.h>

#include <cstdint>

#include "runtime/allocator.h"
#include "runtime/tensor.h"

using namespace dagrad;

TEST(Tensor, FromVectorAndBack) {
  Tensor t = Tensor::from_vector<float>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t.shape(), (Shape{2, 3}));
  EXPECT_EQ(t.dtype(), DType::f32);
  EXPECT_EQ(t.nbytes(), 24u);
  EXPECT_EQ(t.to_vector<float>(), (std::vector<float>{1, 2, 3, 4, 5, 6}));
  EXPECT_THROW(t.data<double>(), TypeError);
  EXPECT_THROW(Tensor::from_vector<float>(Shape{2, 2}, {1, 2, 3}), ShapeError);
}

TEST(Tensor, ViewsAliasStorage) {
  Tensor t = Tensor::from_vector<int32_t>(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor v = t.view({3, 2});
  EXPECT_TRUE(v.same_storage(t));
  EXPECT_EQ(v.shape(), (Shape{3, 2}));
  v.data<int32_t>()[5] = 60;
  EXPECT_EQ(t.to_vector<int32_t>()[5], 60);  // a view writes through
  EXPECT_THROW(t.view({4, 2}), ShapeError);

  Tensor rows = t.slice_rows(1, 2);
  EXPECT_EQ(rows.shape(), (Shape{1, 3}));
  EXPECT_EQ(rows.to_vector<int32_t>(), (std::vector<int32_t>{4, 5, 60}));
  EXPECT_THROW(t.slice_rows(1, 3), ShapeError);
}

TEST(Tensor, CloneIsDeep) {
  Tensor t = Tensor::full(Shape{4}, 2.5, DType::f64);
  Tensor c = t.clone();
  EXPECT_FALSE(c.same_storage(t));
  c.data<double>()[0] = 7;
  EXPECT_EQ(t.to_vector<double>()[0], 2.5);
  EXPECT_EQ(c.to_vector<double>()[0], 7);
}

TEST(Tensor, DtypeConversion) {
  Tensor t = Tensor::from_vector<float>(Shape{3}, {1.5f, -2.25f, 3.0f});
  EXPECT_EQ(t.to_dtype(DType::f64).to_vector<double>(), (std::vector<double>{1.5, -2.25, 3.0}));
  EXPECT_EQ(t.to_dtype(DType::i32).to_vector<int32_t>(), (std::vector<int32_t>{1, -2, 3}));
}

TEST(Tensor, ConversionsBetweenEveryPairOfDtypes) {
  // Values every dtype holds exactly (0, 1, 3; 100 fits int8): any path gives them back.
  Tensor t = Tensor::from_vector<double>(Shape{4}, {0, 1, 3, 100});
  for (DType a : kAllDTypes) {
    Tensor ta = t.to_dtype(a);
    ASSERT_EQ(ta.dtype(), a);
    for (DType b : kAllDTypes) {
      const std::vector<double> back = ta.to_dtype(b).to_dtype(DType::f64).to_vector<double>();
      const std::vector<double> want =
          a == DType::boolean || b == DType::boolean ? std::vector<double>{0, 1, 1, 1} : std::vector<double>{0, 1, 3, 100};
      EXPECT_EQ(back, want) << dtype_name(a) << " -> " << dtype_name(b);
    }
  }
  // Rounding and saturation follow convert<> (runtime/convert.h).
  Tensor x = Tensor::from_vector<float>(Shape{3}, {1.00390625f, 300.7f, -1e9f});
  EXPECT_EQ(x.to_dtype(DType::bf16).to_dtype(DType::f32).to_vector<float>(), (std::vector<float>{1.0f, 300.0f, -998244352.0f}));
  EXPECT_EQ(x.to_dtype(DType::u8).to_vector<uint8_t>(), (std::vector<uint8_t>{1, 255, 0}));
  EXPECT_EQ(x.to_dtype(DType::i16).to_vector<int16_t>(), (std::vector<int16_t>{1, 300, -32768}));
}

TEST(Tensor, FillAndPrintSixteenBitFloatsAndBools) {
  Tensor h = Tensor::full(Shape{2}, 0.1, DType::bf16);
  EXPECT_EQ(h.data<bfloat16>()[1].bits, 0x3dcd);  // 0.1 rounded to bfloat16: 0.10009765625
  EXPECT_EQ(h.to_string(), "Tensor[2] bfloat16 {0.100098, 0.100098}");
  EXPECT_EQ(Tensor::full(Shape{1}, -65536, DType::f16).to_string(), "Tensor[1] float16 {-inf}");
  EXPECT_EQ(Tensor::from_vector<bool>(Shape{2}, {true, false}).to_string(), "Tensor[2] bool {true, false}");
  EXPECT_EQ(Tensor::full(Shape{1}, 7.9, DType::i8).to_string(), "Tensor[1] int8 {7}");
  EXPECT_EQ(Tensor::full(Shape{2}, 2, DType::boolean).to_vector<bool>(), (std::vector<bool>{true, true}));
}

TEST(Allocator, SixtyFourByteAlignmentAndStats) {
  Allocator& a = cpu_allocator();
  size_t before = a.stats().bytes_in_use;
  std::vector<void*> ptrs;
  for (size_t bytes : {1u, 3u, 64u, 65u, 1000u, 4097u}) {
    void* p = a.allocate(bytes);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % kCpuAlignment, 0u) << bytes;
    ptrs.push_back(p);
    a.deallocate(p, bytes);
  }
  EXPECT_EQ(a.stats().bytes_in_use, before);
  {
    Tensor t = Tensor::empty(Shape{1000}, DType::f32);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.raw_data()) % kCpuAlignment, 0u);
    EXPECT_EQ(a.stats().bytes_in_use, before + 4000);
  }
  EXPECT_EQ(a.stats().bytes_in_use, before);
}

TEST(Tensor, UndefinedAccessThrows) {
  Tensor t;
  EXPECT_FALSE(t.defined());
  EXPECT_THROW(t.raw_data(), ValueError);
}
