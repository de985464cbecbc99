// ONNX TensorProto <-> dagrad Tensor, through libonnx's protobuf classes. Element types
// dagrad has no storage for, external data and string tensors are refused with a clear
// error naming the tensor.
#pragma once
#include <string>

#include "runtime/tensor.h"

namespace onnx {
class TensorProto;
}

namespace dagrad::onnx {

// The dagrad dtype of an ONNX TensorProto element type; throws UnsupportedError for the
// ones dagrad cannot hold, naming `what` (a tensor or value name).
DType dtype_from_onnx(int elem_type, const std::string& what);
int dtype_to_onnx(DType t);
std::string onnx_type_name(int elem_type);  // "FLOAT", "INT64", ...

// A host tensor with the proto's shape and values (raw_data or the typed fields).
Tensor tensor_from_proto(const ::onnx::TensorProto& p);
// `t` (on the host) as a TensorProto named `name`, values in raw_data.
void tensor_to_proto(const Tensor& t, const std::string& name, ::onnx::TensorProto& out);

// Reads a serialised TensorProto file (a test's input_K.pb).
Tensor read_tensor_file(const std::string& path, std::string* name = nullptr);

}  // namespace dagrad::onnx
