// Optimizer updates against the update rules of torch.optim written out in double.
#include <cmath>

#include "op_cases.h"

namespace dagrad::testing {

namespace {

Tensor scalar_f32(double v) { return Tensor::full(Shape{}, v, DType::f32); }

OpCase sgd_case(const std::string& label, DType dt, double lr, double momentum, double wd, bool nesterov, uint64_t seed) {
  Shape shape{3, 7};
  OpCase c;
  c.label = label;
  c.inputs = {random_tensor(shape, dt, seed), random_tensor(shape, dt, seed + 1), scalar_f32(lr)};
  if (momentum != 0) c.inputs.push_back(random_tensor(shape, dt, seed + 2));
  c.attrs = Attrs{{"momentum", momentum}, {"weight_decay", wd}, {"nesterov", nesterov}};
  c.reference = [=](const std::vector<Tensor>& in, const Attrs&) {
    Tensor p = in[0].to_dtype(DType::f64), buf;
    if (in.size() == 4) buf = in[3].to_dtype(DType::f64);
    for (int64_t i = 0; i < p.numel(); ++i) {
      double& pv = p.data<double>()[i];
      double g = at(in[1], i) + wd * pv;
      if (buf.defined()) {
        double& b = buf.data<double>()[i];
        b = momentum * b + g;
        g = nesterov ? g + momentum * b : b;
      }
      pv -= at(in[2], 0) * g;
    }
    std::vector<Tensor> out{p};
    if (buf.defined()) out.push_back(buf);
    return out;
  };
  c.tol = dt == DType::f32 ? 1e-6 : 1e-12;
  c.skip_grad = true;
  return c;
}

OpCase adam_case(const std::string& label, DType dt, double wd, bool decoupled, double t0, uint64_t seed) {
  Shape shape{5, 4};
  OpCase c;
  c.label = label;
  c.inputs = {random_tensor(shape, dt, seed), random_tensor(shape, dt, seed + 1), scalar_f32(0.01),
              random_tensor(shape, dt, seed + 2, -0.1, 0.1), random_tensor(shape, dt, seed + 3, 0.01, 0.2, false),
              scalar_f32(t0)};
  c.attrs = Attrs{{"beta1", 0.9}, {"beta2", 0.99}, {"eps", 1e-8}, {"weight_decay", wd}, {"decoupled", decoupled}};
  c.reference = [=](const std::vector<Tensor>& in, const Attrs&) {
    Tensor p = in[0].to_dtype(DType::f64), m = in[3].to_dtype(DType::f64), v = in[4].to_dtype(DType::f64);
    double lr = at(in[2], 0), t = at(in[5], 0) + 1, b1 = 0.9, b2 = 0.99;
    for (int64_t i = 0; i < p.numel(); ++i) {
      double& pv = p.data<double>()[i];
      double& mv = m.data<double>()[i];
      double& vv = v.data<double>()[i];
      double g = at(in[1], i);
      if (decoupled) pv *= 1 - lr * wd;
      else g += wd * pv;
      mv = b1 * mv + (1 - b1) * g;
      vv = b2 * vv + (1 - b2) * g * g;
      double mhat = mv / (1 - std::pow(b1, t)), vhat = vv / (1 - std::pow(b2, t));
      pv -= lr * mhat / (std::sqrt(vhat) + 1e-8);
    }
    return std::vector<Tensor>{p, m, v, make_f64(Shape{}, [t](int64_t) { return t; })};
  };
  c.tol = dt == DType::f32 ? 1e-5 : 1e-9;
  c.skip_grad = true;
  return c;
}

}  // namespace

DAGRAD_OP_CASES("sgd_update") {
  return {sgd_case("plain f32", DType::f32, 0.1, 0, 0, false, 11), sgd_case("momentum f64", DType::f64, 0.05, 0.9, 0, false, 21),
          sgd_case("nesterov + weight decay f32", DType::f32, 0.01, 0.9, 1e-2, true, 31),
          sgd_case("momentum + weight decay f64", DType::f64, 0.02, 0.5, 5e-4, false, 41)};
}

DAGRAD_OP_CASES("adam_update") {
  return {adam_case("adam first step f64", DType::f64, 0, false, 0, 51),
          adam_case("adam later step f32", DType::f32, 0, false, 9, 61),
          adam_case("adam l2 f64", DType::f64, 0.01, false, 3, 71),
          adam_case("adamw f32", DType::f32, 0.01, true, 4, 81)};
}

}  // namespace dagrad::testing
