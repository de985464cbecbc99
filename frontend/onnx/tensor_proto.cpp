#include "frontend/onnx/tensor_proto.h"

#include <onnx/onnx_pb.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "frontend/onnx/errors.h"
#include "runtime/convert.h"

namespace dagrad::onnx {

namespace {
using TP = ::onnx::TensorProto;
}  // namespace

std::string onnx_type_name(int elem_type) {
  if (TP::DataType_IsValid(elem_type)) return TP::DataType_Name(static_cast<TP::DataType>(elem_type));
  return str_cat("type ", elem_type);
}

DType dtype_from_onnx(int elem_type, const std::string& what) {
  switch (elem_type) {
    case TP::FLOAT: return DType::f32;
    case TP::DOUBLE: return DType::f64;
    case TP::BFLOAT16: return DType::bf16;
    case TP::FLOAT16: return DType::f16;
    case TP::BOOL: return DType::boolean;
    case TP::INT8: return DType::i8;
    case TP::INT16: return DType::i16;
    case TP::INT32: return DType::i32;
    case TP::INT64: return DType::i64;
    case TP::UINT8: return DType::u8;
    case TP::UINT16: return DType::u16;
    case TP::UINT32: return DType::u32;
    case TP::UINT64: return DType::u64;
    default:
      throw UnsupportedError(str_cat("'", what, "' has element type ", onnx_type_name(elem_type),
                                     ", which dagrad cannot hold (it has float32, float64, bfloat16, float16, bool "
                                     "and the 8- to 64-bit integers)"));
  }
}

int dtype_to_onnx(DType t) {
  switch (t) {
    case DType::f32: return TP::FLOAT;
    case DType::f64: return TP::DOUBLE;
    case DType::bf16: return TP::BFLOAT16;
    case DType::f16: return TP::FLOAT16;
    case DType::boolean: return TP::BOOL;
    case DType::i8: return TP::INT8;
    case DType::i16: return TP::INT16;
    case DType::i32: return TP::INT32;
    case DType::i64: return TP::INT64;
    case DType::u8: return TP::UINT8;
    case DType::u16: return TP::UINT16;
    case DType::u32: return TP::UINT32;
    case DType::u64: return TP::UINT64;
  }
  throw InternalError(str_cat("no ONNX type for ", dtype_name(t)));
}

namespace {

// How many entries the typed field of a tensor without raw data holds: the 16-bit floats'
// bit patterns and every narrower integer type come in int32_data.
int64_t typed_values(const TP& p) {
  switch (p.data_type()) {
    case TP::FLOAT: return p.float_data().size();
    case TP::DOUBLE: return p.double_data().size();
    case TP::INT64: return p.int64_data().size();
    case TP::UINT32:
    case TP::UINT64: return p.uint64_data().size();
    default: return p.int32_data().size();
  }
}

// Copies the typed field `values` (one entry per element, of a wider type for the small
// integer types; its size already checked) into t.
template <class Field>
void copy_field(const Field& values, Tensor& t) {
  dispatch_all(t.dtype(), [&]<class T>() {
    T* out = t.data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) out[i] = convert<T>(values[static_cast<int>(i)]);
  });
}

}  // namespace

Tensor tensor_from_proto(const TP& p) {
  const std::string name = p.name().empty() ? "(unnamed)" : p.name();
  if (p.data_location() == TP::EXTERNAL)
    throw UnsupportedError(str_cat("ONNX tensor '", name, "' keeps its data in an external file; dagrad reads only "
                                   "tensors stored in the model (save the model without external data)"));
  if (p.has_segment()) throw UnsupportedError(str_cat("ONNX tensor '", name, "' is segmented"));
  std::vector<int64_t> dims(p.dims().begin(), p.dims().end());
  for (int64_t d : dims)
    if (d < 0) throw IoError(str_cat("ONNX tensor '", name, "' has a negative dimension ", d));
  const DType dtype = dtype_from_onnx(p.data_type(), name);
  Shape shape;
  try {
    shape = Shape(dims);  // refuses more elements than int64_t counts
  } catch (const ShapeError& e) {
    throw IoError(str_cat("ONNX tensor '", name, "': ", e.what()));
  }
  // The data must be all there before anything is allocated: a few bytes of a corrupt
  // file must not claim gigabytes.
  const int64_t numel = shape.numel();
  int64_t nbytes = 0;
  if (__builtin_mul_overflow(numel, static_cast<int64_t>(dtype_size(dtype)), &nbytes))
    throw IoError(str_cat("ONNX tensor '", name, "' ", shape.to_string(), " has more bytes than 64 bits can count"));
  if (p.has_raw_data() && static_cast<int64_t>(p.raw_data().size()) != nbytes)
    throw IoError(str_cat("ONNX tensor '", name, "' has ", p.raw_data().size(), " bytes of raw data but ",
                          shape.to_string(), " ", dtype_name(dtype), " needs ", nbytes));
  if (!p.has_raw_data() && typed_values(p) != numel)
    throw IoError(str_cat("ONNX tensor '", name, "' has ", typed_values(p), " values for shape ", shape.to_string(),
                          " (", numel, " elements)"));
  Tensor t = Tensor::empty(shape, dtype);
  if (p.has_raw_data()) {
    if (t.nbytes()) std::memcpy(t.raw_data(), p.raw_data().data(), t.nbytes());
    if (dtype == DType::boolean) {  // any nonzero byte is true; a C++ bool must hold 0 or 1
      auto* bytes = static_cast<unsigned char*>(t.raw_data());
      for (size_t i = 0; i < t.nbytes(); ++i) bytes[i] = bytes[i] != 0;
    }
    return t;
  }
  switch (p.data_type()) {
    case TP::FLOAT16:
    case TP::BFLOAT16: {  // the 16-bit patterns, one per int32_data entry
      auto* bits = static_cast<uint16_t*>(t.raw_data());
      for (int64_t i = 0; i < t.numel(); ++i) bits[i] = static_cast<uint16_t>(p.int32_data(static_cast<int>(i)));
      break;
    }
    case TP::FLOAT: copy_field(p.float_data(), t); break;
    case TP::DOUBLE: copy_field(p.double_data(), t); break;
    case TP::INT64: copy_field(p.int64_data(), t); break;
    case TP::UINT32:
    case TP::UINT64: copy_field(p.uint64_data(), t); break;
    default: copy_field(p.int32_data(), t); break;  // int32 and every narrower type
  }
  return t;
}

void tensor_to_proto(const Tensor& t, const std::string& name, TP& out) {
  Tensor host = t.device().is_cpu() ? t : t.to(Device::cpu());
  out.Clear();
  out.set_name(name);
  out.set_data_type(dtype_to_onnx(host.dtype()));
  for (int64_t d : host.shape()) out.add_dims(d);
  out.set_raw_data(host.raw_data(), host.nbytes());
}

Tensor read_tensor_file(const std::string& path, std::string* name) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(str_cat("cannot open ONNX tensor file '", path, "'"));
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const std::string data = bytes.str();
  TP p;
  if (!p.ParseFromString(data)) throw IoError(str_cat("'", path, "' is not a serialised ONNX TensorProto"));
  if (name) *name = p.name();
  try {
    return tensor_from_proto(p);
  } catch (const UnsupportedError& e) {
    throw UnsupportedError(str_cat(path, ": ", e.what()));
  } catch (const Error& e) {
    throw IoError(str_cat(path, ": ", e.what()));
  }
}

}  // namespace dagrad::onnx
