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
