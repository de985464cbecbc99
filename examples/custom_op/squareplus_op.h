// squareplus(x) = (x + sqrt(x² + b)) / 2: a smooth relu made of arithmetic only, registered
// as an op of this program (dagrad has none of that name). After register_squareplus() it
// is an op like any other: graphs use it, autograd differentiates it, the scheduler runs it.
#pragma once
#include <dagrad/dagrad.h>

#include <source_location>

// The op's typed parameters: one struct, whose fields() lists its attributes; dagrad
// decodes it once per node (with the default below) and hands it to the shape rule, the
// kernel, the vjp and the cost model as node.params<SquareplusParams>().
struct SquareplusParams {
  double b = 4;  // b > 0: the smoothness at 0 (b -> 0 gives relu)

  template <class V>
  static void fields(V& v) {
    v.field("b", &SquareplusParams::b);
  }
};

// Adds "squareplus" to the op registry and its kernel to the CPU kernel table; call
// once, before building graphs that use it.
void register_squareplus();

// The node builder, like those of ops/ops.h: checks, infers the type, computes nothing.
dagrad::Value squareplus(dagrad::Value x, double b = 4.0,
                         const std::source_location& loc = std::source_location::current());
