#include "runtime/tensor.h"

#include <sstream>

#include "runtime/backend.h"
#include "runtime/convert.h"

namespace dagrad {

Storage::Storage(size_t bytes, Allocator& alloc)
    : data_(alloc.allocate(bytes)), bytes_(bytes), device_(alloc.device()), owner_(&alloc) {}

Storage::Storage(void* borrowed, size_t bytes, Device device)
    : data_(borrowed), bytes_(bytes), device_(device) {}

Storage::~Storage() {
  if (owner_) owner_->deallocate(data_, bytes_);
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  Tensor t;
  size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  try {
    t.storage_ = std::make_shared<Storage>(bytes, backend_for(device).allocator());
  } catch (const OutOfMemoryError& e) {
    throw OutOfMemoryError(str_cat("cannot allocate a ", shape.to_string(), " ", dtype_name(dtype), " tensor on ",
                                   device.to_string(), ": ", e.what()));
  }
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
  Tensor t = empty(shape, dtype, Device::cpu());
  if (t.nbytes()) std::memset(t.raw_data(), 0, t.nbytes());
  return device.is_cpu() ? t : t.to(device);
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill(value);
  return t;
}

Tensor Tensor::borrow(void* data, const Shape& shape, DType dtype, Device device) {
  Tensor t;
  size_t bytes = static_cast<size_t>(shape.numel()) * dtype_size(dtype);
  t.storage_ = std::make_shared<Storage>(data, bytes, device);
  t.shape_ = shape;
  t.dtype_ = dtype;
  return t;
}

void* Tensor::raw_data() const {
  if (!storage_) throw ValueError("access to an undefined tensor");
  return static_cast<char*>(storage_->data()) + offset_;
}

Tensor Tensor::view(const Shape& shape) const {
  if (shape.numel() != numel())
    throw ShapeError(str_cat("view: cannot view ", shape_.to_string(), " (", numel(), " elements) as ",
                             shape.to_string(), " (", shape.numel(), " elements)"));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  if (rank() == 0 || begin < 0 || end < begin || end > shape_[0])
    throw ShapeError(str_cat("slice_rows: rows [", begin, ",", end, ") out of range for shape ",
                             shape_.to_string()));
  std::vector<int64_t> dims = shape_.dims();
  size_t row_bytes = dims.empty() ? 0 : nbytes() / std::max<int64_t>(dims[0], 1);
  dims[0] = end - begin;
  Tensor t = *this;
  t.offset_ = offset_ + static_cast<size_t>(begin) * row_bytes;
  t.shape_ = Shape(dims);
  return t;
}

Tensor Tensor::clone() const {
  Tensor t = empty(shape_, dtype_, device());
  t.copy_from(*this);
  return t;
}

void Tensor::copy_from(const Tensor& src) {
  if (src.shape_ != shape_ || src.dtype_ != dtype_)
    throw ShapeError(str_cat("copy_from: source ", src.shape_.to_string(), " ", dtype_name(src.dtype_),
                             " does not match destination ", shape_.to_string(), " ", dtype_name(dtype_)));
  if (nbytes() == 0) return;
  Device dev = device().is_cpu() ? src.device() : device();
  backend_for(dev).copy(raw_data(), device(), src.raw_data(), src.device(), nbytes());
}

Tensor Tensor::to(Device dev) const {
  if (dev == device()) return *this;
  Tensor t = empty(shape_, dtype_, dev);
  t.copy_from(*this);
  return t;
}

Tensor Tensor::to_dtype(DType dt) const {
  if (!device().is_cpu()) throw DeviceError("to_dtype: only CPU tensors can be converted");
  if (dt == dtype_) return clone();
  Tensor out = empty(shape_, dt);
  dispatch_all(dtype_, [&]<class S>() {
    const S* s = data<S>();
    dispatch_all(dt, [&]<class D>() {
      D* d = out.data<D>();
      for (int64_t i = 0; i < numel(); ++i) d[i] = convert<D>(s[i]);
    });
  });
  return out;
}

void Tensor::fill(double value) {
  if (!device().is_cpu()) throw DeviceError("fill: only CPU tensors can be filled directly");
  dispatch_all(dtype_, [&]<class T>() {
    T* p = data<T>();
    const T v = convert<T>(value);
    for (int64_t i = 0; i < numel(); ++i) p[i] = v;
  });
}

std::string Tensor::to_string(int64_t max_elems) const {
  std::ostringstream os;
  os << "Tensor" << shape_.to_string() << " " << dtype_name(dtype_);
  if (!defined()) return os.str() + " (undefined)";
  if (!device().is_cpu()) os << " on " << device().to_string();
  Tensor host = to(Device::cpu());
  os << " {";
  dispatch_all(dtype_, [&]<class T>() {
    const T* p = host.data<T>();
    for (int64_t i = 0; i < std::min(numel(), max_elems); ++i) {
      os << (i ? ", " : "");
      if constexpr (std::is_same_v<T, bool>) os << (p[i] ? "true" : "false");
      else if constexpr (is_half_type_v<T>) os << static_cast<float>(p[i]);
      else os << +p[i];
    }
  });
  if (numel() > max_elems) os << ", ...";
  os << "}";
  return os.str();
}

}  // namespace dagrad
