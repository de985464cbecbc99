// Reference cases of gather and gather_backward: plain loops over data viewed as
// [outer, n, inner], with negative and repeated indices, a scalar index, integer data,
// and a scatter-add large enough for several parallel pieces.
#include "op_cases.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};

struct Setup {
  Shape data;
  int64_t axis;
  Shape indices;
};

// Indices cover [-n, n): negative ones count from the end; repeats sum in the adjoint.
const Setup kSetups[] = {{{5, 3}, 0, {4}},       {{2, 6, 3}, 1, {2, 2}}, {{4, 5}, -1, {3}},
                         {{5, 3}, 0, {}},         {{7}, 0, {9}},          {{50, 64}, 0, {300}},
                         {{3, 4, 2}, -3, {2, 3}}};

struct View {
  int64_t outer = 1, n = 1, inner = 1, count = 1;
  View(const Shape& data, int64_t axis, const Shape& indices) {
    const int64_t r = static_cast<int64_t>(data.rank()), a = axis < 0 ? axis + r : axis;
    n = data[static_cast<size_t>(a)];
    for (int64_t i = 0; i < r; ++i) {
      if (i < a) outer *= data[static_cast<size_t>(i)];
      if (i > a) inner *= data[static_cast<size_t>(i)];
    }
    count = indices.numel();
  }
};

Shape gathered(const Shape& data, int64_t axis, const Shape& indices) {
  const int64_t r = static_cast<int64_t>(data.rank()), a = axis < 0 ? axis + r : axis;
  std::vector<int64_t> dims(data.begin(), data.begin() + a);
  dims.insert(dims.end(), indices.begin(), indices.end());
  dims.insert(dims.end(), data.begin() + a + 1, data.end());
  return Shape(dims);
}

Tensor random_indices(const Shape& shape, int64_t n, uint64_t seed) {
  Tensor t = Tensor::empty(shape, DType::i64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<int64_t>()[i] = static_cast<int64_t>(random_bits(seed, i) % (2 * n)) - n;
  return t;
}

int64_t row_of(const Tensor& idx, int64_t i, int64_t n) {
  const int64_t t = static_cast<int64_t>(at(idx, i));
  return t < 0 ? t + n : t;
}

std::vector<Tensor> gather_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const int64_t axis = a.get_int("axis");
  const View v(in[0].shape(), axis, in[1].shape());
  const Shape out = gathered(in[0].shape(), axis, in[1].shape());
  return {make_f64(out, [&](int64_t e) {
    const int64_t j = e % v.inner, r = e / v.inner, i = r % v.count, o = r / v.count;
    return at(in[0], (o * v.n + row_of(in[1], i, v.n)) * v.inner + j);
  })};
}

std::vector<Tensor> gather_backward_reference(const std::vector<Tensor>& in, const Attrs& a) {
  const int64_t axis = a.get_int("axis");
  const Shape data(a.get_ints("data_shape"));
  const View v(data, axis, in[1].shape());
  std::vector<double> out(static_cast<size_t>(data.numel()), 0.0);
  for (int64_t e = 0; e < in[0].numel(); ++e) {
    const int64_t j = e % v.inner, r = e / v.inner, i = r % v.count, o = r / v.count;
    out[static_cast<size_t>((o * v.n + row_of(in[1], i, v.n)) * v.inner + j)] += at(in[0], e);
  }
  return {make_f64(data, [&](int64_t f) { return out[static_cast<size_t>(f)]; })};
}

// One case of `op` per dtype and setup: random data of data_shape(setup) and random
// indices into the gathered axis, with attrs_of(setup).
template <class DataShape, class AttrsOf>
std::vector<OpCase> setup_cases(std::string_view op, uint64_t seed, DataShape&& data_shape, AttrsOf&& attrs_of,
                                const decltype(OpCase::reference)& reference) {
  std::vector<OpCase> cases;
  for (DType dt : kDtypes)
    for (const Setup& s : kSetups) {
      const View v(s.data, s.axis, s.indices);
      OpCase k;
      k.label = str_cat(op, " ", s.data.to_string(), " axis ", s.axis, " indices ", s.indices.to_string(), " ",
                        dtype_name(dt));
      k.inputs = {random_tensor(data_shape(s), dt, seed++), random_indices(s.indices, v.n, seed++)};
      k.attrs = attrs_of(s);
      k.reference = reference;
      cases.push_back(k);
    }
  return cases;
}

}  // namespace

DAGRAD_OP_CASES("gather") {
  std::vector<OpCase> cases = setup_cases(
      "gather", 700, [](const Setup& s) { return s.data; }, [](const Setup& s) { return Attrs{{"axis", s.axis}}; },
      gather_reference);
  // Integer data moves as bytes (token ids, say); it has no gradient.
  OpCase ints;
  ints.label = "gather int64 data";
  Tensor data = Tensor::empty(Shape{6, 2}, DType::i64);
  for (int64_t i = 0; i < 12; ++i) data.data<int64_t>()[i] = 1000 + 7 * i;
  ints.inputs = {data, random_indices(Shape{5}, 6, 790)};
  ints.attrs = Attrs{{"axis", int64_t{0}}};
  ints.reference = gather_reference;
  ints.skip_grad = true;
  cases.push_back(ints);
  return cases;
}

DAGRAD_OP_CASES("gather_backward") {
  return setup_cases(
      "gather_backward", 800, [](const Setup& s) { return gathered(s.data, s.axis, s.indices); },
      [](const Setup& s) {
        return Attrs{{"axis", s.axis}, {"data_shape", std::vector<int64_t>(s.data.begin(), s.data.end())}};
      },
      gather_backward_reference);
}

}  // namespace dagrad::testing
