// What the ONNX importer and exporter throw beyond dagrad's usual errors.
#pragma once
#include "runtime/error.h"

namespace dagrad::onnx {

// A model uses something dagrad does not support (an op, an opset, a dtype, a dynamic
// shape): the message names the node, its op type and opset, and what dagrad supports.
class UnsupportedError : public Error {
  using Error::Error;
};

}  // namespace dagrad::onnx
