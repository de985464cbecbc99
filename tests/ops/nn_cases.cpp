// Reference cases of the nn family: losses and their backward ops, accuracy, the
// confusion matrix, dropout, batch_norm and its backward op. References are plain loops
// in double.
#include <cmath>

#include "op_cases.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};
// (rows N, classes C) of every classification case.
constexpr std::pair<int64_t, int64_t> kRowsClasses[] = {{1, 3}, {1, 10}, {5, 3}, {5, 10}};

std::string label(const std::string& what, const Shape& s, DType t) {
  return str_cat(what, " ", s.to_string(), " ", dtype_name(t));
}

int64_t target_of(const Tensor& target, int64_t i) { return static_cast<int64_t>(at(target, i)); }

// log Σ_j exp(x[i,j]) in double, shifted by the row max.
double row_logsumexp(const Tensor& x, int64_t i, int64_t c) {
  double m = at(x, i * c);
  for (int64_t j = 1; j < c; ++j) m = std::max(m, at(x, i * c + j));
  double s = 0;
  for (int64_t j = 0; j < c; ++j) s += std::exp(at(x, i * c + j) - m);
  return m + std::log(s);
}

// The first maximum of row i of scores [N,C].
int64_t row_argmax(const Tensor& x, int64_t i, int64_t c) {
  int64_t best = 0;
  for (int64_t j = 1; j < c; ++j)
    if (at(x, i * c + j) > at(x, i * c + best)) best = j;
  return best;
}

// One case per dtype and (rows, classes) of kRowsClasses.
std::vector<OpCase> class_cases(const std::function<OpCase(DType, int64_t n, int64_t c)>& make) {
  std::vector<OpCase> cases;
  for (DType dt : kDtypes)
    for (auto [n, c] : kRowsClasses) cases.push_back(make(dt, n, c));
  return cases;
}

Tensor scalar_f64(double v) {
  return make_f64(Shape{}, [v](int64_t) { return v; });
}

// x viewed as [N, C, S].
struct Nch {
  int64_t n, c, s;
  explicit Nch(const Shape& x) : n(x[0]), c(x[1]), s(x.numel() / (x[0] * x[1])) {}
  int64_t count() const { return n * s; }
  int64_t index(int64_t ni, int64_t ci, int64_t si) const { return (ni * c + ci) * s + si; }
  int64_t channel_of(int64_t flat) const { return flat / s % c; }
};

// Batch mean and biased variance per channel.
void channel_stats(const Tensor& x, std::vector<double>& mean, std::vector<double>& var) {
  Nch d(x.shape());
  mean.assign(d.c, 0);
  var.assign(d.c, 0);
  for (int64_t ci = 0; ci < d.c; ++ci) {
    for (int64_t ni = 0; ni < d.n; ++ni)
      for (int64_t si = 0; si < d.s; ++si) mean[ci] += at(x, d.index(ni, ci, si));
    mean[ci] /= d.count();
    for (int64_t ni = 0; ni < d.n; ++ni)
      for (int64_t si = 0; si < d.s; ++si) var[ci] += std::pow(at(x, d.index(ni, ci, si)) - mean[ci], 2);
    var[ci] /= d.count();
  }
}

constexpr double kEps = 1e-5;

}  // namespace

// ---- losses ----

DAGRAD_OP_CASES("nll_loss") {
  return class_cases([](DType dt, int64_t n, int64_t c) {
    OpCase k;
    k.label = label("nll", Shape{n, c}, dt);
    k.inputs = {random_tensor(Shape{n, c}, dt, 10 * n + c, -3.0, -0.1), random_labels(n, c, 20 * n + c)};
    k.reference = [](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t n = in[0].shape()[0], c = in[0].shape()[1];
      double acc = 0;
      for (int64_t i = 0; i < n; ++i) acc -= at(in[0], i * c + target_of(in[1], i));
      return std::vector<Tensor>{scalar_f64(acc / n)};
    };
    k.grad_inputs = {0};
    return k;
  });
}

DAGRAD_OP_CASES("nll_loss_backward") {
  return class_cases([](DType dt, int64_t n, int64_t c) {
    OpCase k;
    k.label = label("nll backward", Shape{n, c}, dt);
    k.inputs = {random_tensor(Shape{}, dt, 30 * n + c, 0.5, 2.0),
                random_tensor(Shape{n, c}, dt, 10 * n + c, -3.0, -0.1), random_labels(n, c, 20 * n + c)};
    k.reference = [](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t n = in[1].shape()[0], c = in[1].shape()[1];
      const double g = at(in[0], 0);
      return std::vector<Tensor>{
          make_f64(in[1].shape(), [&](int64_t f) { return f % c == target_of(in[2], f / c) ? -g / n : 0.0; })};
    };
    k.grad_inputs = {0};
    return k;
  });
}

// Logits in [-2, 2), and per dtype logits far beyond exp's range, where only the
// max-shifted form stays finite; `backward` puts a scalar incoming gradient first.
std::vector<OpCase> softmax_cross_entropy_cases(const char* what, bool backward) {
  auto grad = [&](DType dt, uint64_t seed) {
    return backward ? std::vector<Tensor>{random_tensor(Shape{}, dt, seed, 0.5, 2.0)} : std::vector<Tensor>{};
  };
  std::vector<OpCase> cases = class_cases([&](DType dt, int64_t n, int64_t c) {
    OpCase k;
    k.label = label(what, Shape{n, c}, dt);
    k.inputs = grad(dt, 60 * n + c);
    k.inputs.push_back(random_tensor(Shape{n, c}, dt, 40 * n + c, -2.0, 2.0));
    k.inputs.push_back(random_labels(n, c, 50 * n + c));
    return k;
  });
  for (DType dt : kDtypes) {
    OpCase big;
    big.label = label(str_cat(what, " large logits"), Shape{4, 6}, dt);
    big.inputs = grad(dt, 79);
    big.inputs.push_back(random_tensor(Shape{4, 6}, dt, 77, -500.0, 500.0));
    big.inputs.push_back(random_labels(4, 6, 78));
    cases.push_back(big);
  }
  return cases;
}

DAGRAD_OP_CASES("softmax_cross_entropy") {
  std::vector<OpCase> cases = softmax_cross_entropy_cases("sce", /*backward=*/false);
  for (OpCase& k : cases) {
    k.grad_inputs = {0};
    k.reference = [](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t n = in[0].shape()[0], c = in[0].shape()[1];
      double acc = 0;
      for (int64_t i = 0; i < n; ++i) acc += row_logsumexp(in[0], i, c) - at(in[0], i * c + target_of(in[1], i));
      return std::vector<Tensor>{scalar_f64(acc / n)};
    };
  }
  return cases;
}

DAGRAD_OP_CASES("softmax_cross_entropy_backward") {
  std::vector<OpCase> cases = softmax_cross_entropy_cases("sce backward", /*backward=*/true);
  for (OpCase& k : cases)
    k.reference = [](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t n = in[1].shape()[0], c = in[1].shape()[1];
      const double g = at(in[0], 0);
      return std::vector<Tensor>{make_f64(in[1].shape(), [&](int64_t f) {
        const int64_t i = f / c, j = f % c;
        const double p = std::exp(at(in[1], f) - row_logsumexp(in[1], i, c));
        return g / n * (p - (j == target_of(in[2], i) ? 1.0 : 0.0));
      })};
    };
  return cases;
}

// ---- accuracy ----

DAGRAD_OP_CASES("accuracy") {
  return class_cases([](DType dt, int64_t n, int64_t c) {
    OpCase k;
    k.label = label("accuracy", Shape{n, c}, dt);
    Tensor logits = random_tensor(Shape{n, c}, dt, 70 * n + c);
    Tensor target = random_labels(n, c, 80 * n + c);
    // Every other row's target is its argmax, so the fraction is neither 0 nor 1.
    for (int64_t i = 0; i < n; i += 2) target.data<int64_t>()[i] = row_argmax(logits, i, c);
    k.inputs = {logits, target};
    k.reference = [](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t n = in[0].shape()[0], c = in[0].shape()[1];
      int64_t correct = 0;
      for (int64_t i = 0; i < n; ++i) correct += row_argmax(in[0], i, c) == target_of(in[1], i);
      return std::vector<Tensor>{scalar_f64(static_cast<double>(correct) / n)};
    };
    k.skip_grad = true;  // piecewise constant
    return k;
  });
}

// ---- confusion_matrix ----

DAGRAD_OP_CASES("confusion_matrix") {
  std::vector<OpCase> cases;
  // (samples N, classes C): one sample, one class, more classes than samples, many samples.
  for (auto [n, c] : {std::pair<int64_t, int64_t>{1, 3}, {4, 1}, {3, 10}, {200, 10}}) {
    OpCase k;
    k.label = str_cat("confusion_matrix N=", n, " C=", c);
    Tensor predicted = random_labels(n, c, 90 * n + c);
    const Tensor target = random_labels(n, c, 95 * n + c);
    // Half the predictions right, so the diagonal and the rest both count.
    for (int64_t i = 0; i < n; i += 2) predicted.data<int64_t>()[i] = target.data<int64_t>()[i];
    k.inputs = {predicted, target};
    k.attrs = Attrs{{"num_classes", c}};
    k.reference = [c](const std::vector<Tensor>& in, const Attrs&) {
      Tensor counts = Tensor::zeros(Shape{c, c}, DType::i64);
      for (int64_t i = 0; i < in[0].numel(); ++i)
        ++counts.data<int64_t>()[target_of(in[1], i) * c + target_of(in[0], i)];
      return std::vector<Tensor>{counts};
    };
    k.tol = 0;
    k.skip_grad = true;
    cases.push_back(k);
  }
  return cases;
}

// ---- one_hot ----

DAGRAD_OP_CASES("one_hot") {
  std::vector<OpCase> cases;
  struct Form {
    Shape shape;
    int64_t depth, axis;
    bool wraps;
    DType idx, out;
  };
  const Form forms[] = {{Shape{5}, 4, -1, false, DType::i64, DType::f32},   {Shape{2, 3}, 6, 1, true, DType::i32, DType::f64},
                        {Shape{2, 3}, 3, 0, false, DType::i64, DType::i64}, {Shape{}, 7, 0, true, DType::i64, DType::f32},
                        {Shape{3, 1, 4}, 5, 2, true, DType::i32, DType::f32}};
  uint64_t seed = 1;
  for (const Form& f : forms) {
    OpCase k;
    k.label = str_cat(f.shape.to_string(), " depth ", f.depth, " axis ", f.axis, f.wraps ? " wrapping" : "");
    // Indices in [-depth-1, depth+1]: some negative, some out of range either way.
    Tensor idx = Tensor::empty(f.shape, DType::i64);
    for (int64_t i = 0; i < idx.numel(); ++i)
      idx.data<int64_t>()[i] = static_cast<int64_t>(random_bits(seed, i) % (2 * f.depth + 3)) - f.depth - 1;
    ++seed;
    k.inputs = {idx.to_dtype(f.idx)};
    k.attrs = Attrs{{"depth", f.depth}, {"axis", f.axis}, {"negative_wraps", f.wraps},
                    {"dtype", std::string(dtype_name(f.out))}};
    k.reference = [f](const std::vector<Tensor>& in, const Attrs&) {
      const int64_t rank = static_cast<int64_t>(f.shape.rank()) + 1, axis = f.axis < 0 ? f.axis + rank : f.axis;
      std::vector<int64_t> dims(f.shape.begin(), f.shape.end());
      dims.insert(dims.begin() + axis, f.depth);
      int64_t outer = 1, inner = 1;
      for (int64_t d = 0; d < axis; ++d) outer *= dims[d];
      for (int64_t d = axis + 1; d < rank; ++d) inner *= dims[d];
      Tensor out = Tensor::zeros(Shape(dims), DType::f64);
      for (int64_t o = 0; o < outer; ++o)
        for (int64_t i = 0; i < inner; ++i) {
          int64_t v = static_cast<int64_t>(at(in[0], o * inner + i));
          if (f.wraps && v < 0) v += f.depth;
          if (v >= 0 && v < f.depth) out.data<double>()[(o * f.depth + v) * inner + i] = 1;
        }
      return std::vector<Tensor>{out};
    };
    k.tol = 0;
    k.skip_grad = true;
    cases.push_back(k);
  }
  return cases;
}

// ---- dropout ----

DAGRAD_OP_CASES("dropout") {
  struct Setup {
    Shape shape;
    double p;
    int64_t seed;
    bool training;
    int64_t offset = 0;  // index of the first element (a data-parallel rank's share)
  };
  // Odd sizes leave a partial group of 4 (one Philox draw covers 4 elements); so do
  // offsets that are not a multiple of 4.
  const Setup setups[] = {{{5, 7}, 0.3, 1, true},        {{1}, 0.5, 2, true},         {{3, 1, 9}, 0.5, 3, true},
                          {{64, 33}, 0.9, 4, true},      {{5, 7}, 0.0, 5, true},      {{5, 7}, 0.5, 6, false},
                          {{2, 3}, 0.25, -7, true},      {{64, 33}, 0.5, 8, true, 2112}, {{5, 7}, 0.3, 1, true, 35},
                          {{3, 1, 9}, 0.5, 3, true, 6}};
  std::vector<OpCase> cases;
  for (DType dt : kDtypes)
    for (const Setup& s : setups) {
      OpCase k;
      k.label = label(str_cat("dropout p=", s.p, s.training ? "" : " eval", s.offset ? str_cat(" offset ", s.offset) : ""),
                      s.shape, dt);
      k.inputs = {random_tensor(s.shape, dt, 90 + s.seed)};
      k.attrs = Attrs{{"p", s.p}, {"seed", s.seed}, {"training", s.training}, {"offset", s.offset}};
      // The interpreter runs step 0, whose mask seed is the attribute seed itself.
      k.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
        const double p = a.get_float("p");
        const uint64_t seed = static_cast<uint64_t>(a.get_int("seed"));
        const bool training = a.get_bool("training");
        const int64_t offset = a.get_int("offset");
        return std::vector<Tensor>{make_f64(in[0].shape(), [&](int64_t i) {
          const double x = at(in[0], i);
          if (!training) return x;
          return random_uniform(seed, static_cast<uint64_t>(offset + i)) >= p ? x / (1 - p) : 0.0;
        })};
      };
      cases.push_back(k);
    }
  return cases;
}

// ---- batch norm ----

namespace {

// Outputs y, save_mean, save_invstd of batch_norm on inputs x, gamma, beta, running stats,
// then the running stats after the call (written in place: moved toward the batch mean
// and unbiased variance in training, unchanged in eval).
std::vector<Tensor> batch_norm_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const Tensor& x = in[0];
  const Nch d(x.shape());
  const bool training = a.get_bool("training");
  std::vector<double> mean, var;
  Tensor new_mean = in[3].to_dtype(DType::f64), new_var = in[4].to_dtype(DType::f64);
  if (training) {
    channel_stats(x, mean, var);
    const double momentum = a.get_float("momentum"), m = static_cast<double>(d.count());
    for (int64_t ci = 0; ci < d.c; ++ci) {
      new_mean.data<double>()[ci] = (1 - momentum) * at(in[3], ci) + momentum * mean[ci];
      new_var.data<double>()[ci] = (1 - momentum) * at(in[4], ci) + momentum * var[ci] * m / (m - 1);
    }
  } else {
    for (int64_t ci = 0; ci < d.c; ++ci) {
      mean.push_back(at(in[3], ci));
      var.push_back(at(in[4], ci));
    }
  }
  const double eps = a.get_float("eps");
  auto invstd = [&](int64_t ci) { return 1.0 / std::sqrt(var[ci] + eps); };
  Tensor y = make_f64(x.shape(), [&](int64_t f) {
    const int64_t ci = d.channel_of(f);
    return (at(x, f) - mean[ci]) * invstd(ci) * at(in[1], ci) + at(in[2], ci);
  });
  return {y, make_f64(Shape{d.c}, [&](int64_t ci) { return mean[ci]; }), make_f64(Shape{d.c}, invstd), new_mean,
          new_var};
}

// dx, dgamma, dbeta of batch_norm_backward(dy, x, gamma, save_mean, save_invstd).
std::vector<Tensor> batch_norm_backward_reference(const std::vector<Tensor>& in, const Attrs&) {
  const Tensor &dy = in[0], &x = in[1];
  const Nch d(x.shape());
  std::vector<double> sdy(d.c, 0), sdy_xhat(d.c, 0);
  auto xhat = [&](int64_t f) {
    const int64_t ci = d.channel_of(f);
    return (at(x, f) - at(in[3], ci)) * at(in[4], ci);
  };
  for (int64_t f = 0; f < x.numel(); ++f) {
    sdy[d.channel_of(f)] += at(dy, f);
    sdy_xhat[d.channel_of(f)] += at(dy, f) * xhat(f);
  }
  const double m = static_cast<double>(d.count());
  Tensor dx = make_f64(x.shape(), [&](int64_t f) {
    const int64_t ci = d.channel_of(f);
    return at(in[2], ci) * at(in[4], ci) / m * (m * at(dy, f) - sdy[ci] - xhat(f) * sdy_xhat[ci]);
  });
  return {dx, make_f64(Shape{d.c}, [&](int64_t ci) { return sdy_xhat[ci]; }),
          make_f64(Shape{d.c}, [&](int64_t ci) { return sdy[ci]; })};
}

const Shape kBnShapes[] = {{4, 3, 5, 5}, {6, 4}, {1, 3, 2, 3}, {2, 1, 7}};

}  // namespace

DAGRAD_OP_CASES("batch_norm") {
  std::vector<OpCase> cases;
  uint64_t seed = 200;
  for (DType dt : kDtypes)
    for (const Shape& shape : kBnShapes)
      for (bool training : {true, false}) {
        const Shape ch{shape[1]};
        OpCase k;
        k.label = label(training ? "batch_norm train" : "batch_norm eval", shape, dt);
        // x has a non-zero mean so that centring matters.
        k.inputs = {random_tensor(shape, dt, seed++, -1.0, 3.0), random_tensor(ch, dt, seed++, 0.5, 1.5),
                    random_tensor(ch, dt, seed++), random_tensor(ch, dt, seed++, -0.5, 0.5),
                    random_tensor(ch, dt, seed++, 0.5, 1.5)};
        k.attrs = Attrs{{"training", training}, {"momentum", 0.1}, {"eps", kEps}};
        k.reference = batch_norm_reference;
        cases.push_back(k);
      }
  // A [1,C] batch is fine in eval mode (training needs two values per channel).
  for (DType dt : kDtypes) {
    OpCase k;
    k.label = label("batch_norm eval", Shape{1, 3}, dt);
    k.inputs = {random_tensor(Shape{1, 3}, dt, 300), random_tensor(Shape{3}, dt, 301, 0.5, 1.5),
                random_tensor(Shape{3}, dt, 302), random_tensor(Shape{3}, dt, 303, -0.5, 0.5),
                random_tensor(Shape{3}, dt, 304, 0.5, 1.5)};
    k.attrs = Attrs{{"training", false}, {"eps", kEps}};
    k.reference = batch_norm_reference;
    cases.push_back(k);
  }
  return cases;
}

DAGRAD_OP_CASES("batch_norm_backward") {
  std::vector<OpCase> cases;
  uint64_t seed = 400;
  for (DType dt : kDtypes)
    for (const Shape& shape : kBnShapes) {
      const Shape ch{shape[1]};
      Tensor x = random_tensor(shape, dt, seed++, -1.0, 3.0);
      // The saved statistics of x, as the forward op would produce them.
      std::vector<double> mean, var;
      channel_stats(x, mean, var);
      Tensor save_mean = make_f64(ch, [&](int64_t c) { return mean[c]; }).to_dtype(dt);
      Tensor save_invstd = make_f64(ch, [&](int64_t c) { return 1.0 / std::sqrt(var[c] + kEps); }).to_dtype(dt);
      OpCase k;
      k.label = label("batch_norm backward", shape, dt);
      k.inputs = {random_tensor(shape, dt, seed++), x, random_tensor(ch, dt, seed++, 0.5, 1.5), save_mean, save_invstd};
      k.reference = batch_norm_backward_reference;
      cases.push_back(k);
    }
  return cases;
}

}  // namespace dagrad::testing
