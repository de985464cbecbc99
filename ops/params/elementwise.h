// Typed parameters of the elementwise ops that take scalars. Their double fields, in
// declaration order, are the functor's members (ops/elementwise_math.h): LeakyRelu<T>{slope}.
#pragma once

namespace dagrad {

struct SlopeParams {
  double negative_slope = 0.01;

  template <class V>
  static void fields(V& v) {
    v.field("negative_slope", &SlopeParams::negative_slope);
  }
};

struct ExponentParams {
  double exponent = 1;

  template <class V>
  static void fields(V& v) {
    v.required("exponent", &ExponentParams::exponent);
  }
};

// PyTorch's Softplus: log(1 + exp(beta·x)) / beta, linear above beta·x > threshold.
struct SoftplusParams {
  double beta = 1;
  double threshold = 20;

  template <class V>
  static void fields(V& v) {
    v.field("beta", &SoftplusParams::beta);
    v.field("threshold", &SoftplusParams::threshold);
  }
};

}  // namespace dagrad
