// The functors of ops/elementwise_math.h that the CUDA elementwise launchers are
// instantiated for: X(functor, number of scalar parameters). elementwise.cu
// instantiates them; elementwise_ops.cpp maps each op to its functor.
#pragma once

#define DAGRAD_CUDA_UNARY_FUNCTORS(X) \
  X(Relu, 0)                          \
  X(LeakyRelu, 1)                     \
  X(Sigmoid, 0)                       \
  X(Tanh, 0)                          \
  X(Gelu, 0)                          \
  X(Exp, 0)                           \
  X(Log, 0)                           \
  X(Sqrt, 0)                          \
  X(Neg, 0)                           \
  X(Abs, 0)                           \
  X(Pow, 1)                           \
  X(Sign, 0)

#define DAGRAD_CUDA_BINARY_FUNCTORS(X) \
  X(Add, 0)                            \
  X(Sub, 0)                            \
  X(Mul, 0)                            \
  X(Div, 0)                            \
  X(Maximum, 0)                        \
  X(GreaterEqual, 0)                   \
  X(ReluBackward, 0)                   \
  X(LeakyReluBackward, 1)              \
  X(GeluBackward, 0)
