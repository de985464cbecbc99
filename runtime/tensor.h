// Tensor: a dense, contiguous, row-major array on a device, sharing reference-counted
// storage. Copies of a Tensor are shallow (they alias the same bytes, like torch.Tensor);
// clone() makes a deep copy. Views (view/slice_rows) alias too.
#pragma once
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "runtime/allocator.h"
#include "runtime/device.h"
#include "runtime/dtype.h"
#include "runtime/shape.h"

namespace dagrad {

// Bytes on one device: either owned (freed through its allocator) or borrowed from
// memory someone else keeps alive (an arena, a mapped file).
class Storage {
 public:
  Storage(size_t bytes, Allocator& alloc);
  Storage(void* borrowed, size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  Allocator* owner_ = nullptr;  // null when borrowed
};

class Tensor {
 public:
  Tensor() = default;  // undefined tensor

  static Tensor empty(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::f32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, double value, DType dtype = DType::f32);
  // Aliases memory owned elsewhere; the caller keeps it alive longer than the tensor.
  static Tensor borrow(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
  template <class T>
  static Tensor from_vector(const Shape& shape, const std::vector<T>& values);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  int64_t numel() const { return shape_.numel(); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  size_t rank() const { return shape_.rank(); }

  void* raw_data() const;
  // Typed pointer; throws TypeError if T does not match the dtype.
  template <class T>
  T* data() const;

  // Same bytes, new shape. Throws ShapeError on a numel mismatch.
  Tensor view(const Shape& shape) const;
  Tensor view(std::initializer_list<int64_t> dims) const { return view(Shape(dims)); }
  // Rows [begin, end) along dim 0, aliasing the same bytes.
  Tensor slice_rows(int64_t begin, int64_t end) const;

  Tensor clone() const;
  // Copies src's bytes into this tensor (any devices); shapes and dtypes must match.
  void copy_from(const Tensor& src);
  Tensor to(Device device) const;
  // Converts the element type with convert<D> (runtime/convert.h): rounding to nearest
  // even into floating types, saturating float-to-integer, modular integer narrowing.
  // CPU only.
  Tensor to_dtype(DType dtype) const;
  void fill(double value);  // every element = convert<T>(value); CPU only

  template <class T>
  std::vector<T> to_vector() const;
  // A short human-readable rendering: "Tensor[2,3] float32 {1, 2, 3, ...}".
  std::string to_string(int64_t max_elems = 8) const;

  bool same_storage(const Tensor& o) const { return storage_ == o.storage_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }

 private:
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // bytes into storage
  Shape shape_;
  DType dtype_ = DType::f32;
};

template <class T>
T* Tensor::data() const {
  if (dtype_of<T>() != dtype_)
    throw TypeError(str_cat("tensor holds ", dtype_name(dtype_), ", accessed as ",
                            dtype_name(dtype_of<T>())));
  return static_cast<T*>(raw_data());
}

template <class T>
Tensor Tensor::from_vector(const Shape& shape, const std::vector<T>& values) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw ShapeError(str_cat("from_vector: ", values.size(), " values for shape ",
                             shape.to_string(), " (", shape.numel(), " elements)"));
  Tensor t = empty(shape, dtype_of<T>());
  if constexpr (std::is_same_v<T, bool>) {  // std::vector<bool> packs bits
    for (size_t i = 0; i < values.size(); ++i) t.data<bool>()[i] = values[i];
  } else if (!values.empty()) {
    std::memcpy(t.raw_data(), values.data(), values.size() * sizeof(T));
  }
  return t;
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  Tensor host = device().is_cpu() ? *this : to(Device::cpu());
  const T* p = host.data<T>();
  return std::vector<T>(p, p + numel());
}

}  // namespace dagrad
