// allreduce_mean in one process (the test binary is not started by mpirun): the mean over
// a world of one rank is each input unchanged. Several ranks: tests/comm/mpi_test.cpp.
#include "op_cases.h"

namespace dagrad::testing {

namespace {

OpCase identity_case(const std::string& label, DType dt, std::vector<Shape> shapes, uint64_t seed) {
  OpCase c;
  c.label = label;
  for (const Shape& s : shapes) c.inputs.push_back(random_tensor(s, dt, seed++));
  c.reference = [](const std::vector<Tensor>& in, const Attrs&) {
    std::vector<Tensor> out;
    for (const Tensor& t : in) out.push_back(t.to_dtype(DType::f64));
    return out;
  };
  c.tol = 0;
  return c;
}

}  // namespace

DAGRAD_OP_CASES("allreduce_mean") {
  return {identity_case("one f32 tensor", DType::f32, {Shape{5, 3}}, 11),
          identity_case("a bucket of three f32 tensors", DType::f32, {Shape{4}, Shape{2, 3, 3}, Shape{}}, 21),
          identity_case("f64", DType::f64, {Shape{7}, Shape{1, 2}}, 31)};
}

}  // namespace dagrad::testing
