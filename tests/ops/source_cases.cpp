#include "op_cases.h"

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

}  // namespace dagrad::testing
