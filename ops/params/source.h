// Typed parameters of the sources: declared inputs and parameters, constant fills.
#pragma once
#include <cstdint>
#include <vector>

#include "runtime/dtype.h"
#include "runtime/tensor.h"

namespace dagrad {

// input: a tensor bound per run; parameter: persistent state bound by name.
struct DeclParams {
  std::vector<int64_t> shape;
  DType dtype = DType::f32;
  bool trainable = true;  // parameters only

  template <class V>
  static void fields(V& v) {
    v.required("shape", &DeclParams::shape);
    v.required("dtype", &DeclParams::dtype);
  }
};

struct ParameterParams : DeclParams {
  template <class V>
  static void fields(V& v) {
    DeclParams::fields(v);
    v.field("trainable", &ParameterParams::trainable);
  }
};

// full: a constant tensor.
struct FillParams {
  std::vector<int64_t> shape;
  DType dtype = DType::f32;
  double value = 0;

  template <class V>
  static void fields(V& v) {
    v.required("shape", &FillParams::shape);
    v.required("dtype", &FillParams::dtype);
    v.required("value", &FillParams::value);
  }
};

// constant: a tensor embedded in the graph (an imported model's Constant nodes and
// shape tensors). Supplied by the builder, not decodable from attributes.
struct ConstantParams {
  Tensor value;  // on the host

  template <class V>
  static void fields(V&) {}
};

}  // namespace dagrad
