#include "op_cases.h"
#include "ops/params/source.h"

namespace dagrad::testing {

DAGRAD_OP_CASES("full") {
  std::vector<OpCase> cases;
  for (auto [shape, value] : {std::pair{Shape{2, 3}, 1.5}, {Shape{}, -2.0}, {Shape{4, 1, 5}, 0.25}}) {
    OpCase c;
    c.label = shape.to_string();
    c.attrs = Attrs{{"shape", std::vector<int64_t>(shape.begin(), shape.end())}, {"dtype", std::string("float32")},
                    {"value", value}};
    c.reference = [shape, value](const std::vector<Tensor>&, const Attrs&) {
      return std::vector<Tensor>{make_f64(shape, [value](int64_t) { return value; })};
    };
    c.skip_grad = true;
    cases.push_back(c);
  }
  return cases;
}

// The tensor the node holds, for every element type.
DAGRAD_OP_CASES("constant") {
  std::vector<OpCase> cases;
  uint64_t seed = 1;
  for (DType dt : {DType::f32, DType::f64, DType::i32, DType::i64, DType::u8})
    for (const Shape& shape : {Shape{2, 3}, Shape{}, Shape{0, 4}}) {
      OpCase c;
      c.label = str_cat(dtype_name(dt), " ", shape.to_string());
      Tensor value = random_tensor(shape, DType::f64, seed++, 0.0, 100.0).to_dtype(dt);
      c.params = std::make_shared<const ConstantParams>(ConstantParams{value});
      c.reference = [value](const std::vector<Tensor>&, const Attrs&) {
        return std::vector<Tensor>{value.clone()};
      };
      c.tol = 0;
      c.skip_grad = true;
      cases.push_back(c);
    }
  return cases;
}

}  // namespace dagrad::testing
