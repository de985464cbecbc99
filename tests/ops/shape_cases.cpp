// Reference cases of the shape family: reshape, transpose, permute, concat, slice.
#include "op_cases.h"
#include "reduce_shape_ref.h"

namespace dagrad::testing {

namespace {

constexpr DType kDtypes[] = {DType::f32, DType::f64};
constexpr int64_t kMaxGradElems = 4096;  // larger cases skip finite differences

std::string label(const Shape& s, DType t, const std::string& what) {
  return str_cat(s.to_string(), " ", what, " ", dtype_name(t));
}

// A test input of any dtype: random floats, or random integers.
Tensor input_of(const Shape& s, DType t, uint64_t seed) {
  if (is_floating(t)) return random_tensor(s, t, seed);
  return random_labels(s.numel(), 1000, seed).view(s);
}

int norm(int64_t axis, size_t rank) { return static_cast<int>(axis < 0 ? axis + static_cast<int64_t>(rank) : axis); }

// y = x with dims reordered: output dim d is input dim perm[d].
Tensor permute_ref(const Tensor& x, const std::vector<int>& perm) {
  const Shape& s = x.shape();
  std::vector<int64_t> dims;
  for (int p : perm) dims.push_back(s[p]);
  Shape out(dims);
  return gather_ref(x, out, [&](int64_t i) {
    std::vector<int64_t> oc = coords_of(out, i), ic(s.rank());
    for (size_t d = 0; d < perm.size(); ++d) ic[perm[d]] = oc[d];
    return flat_of(s, ic);
  });
}

// Every row once per dtype of kDtypes (the row's `t`), then `int_row`.
template <class Row>
std::vector<Row> rows_per_dtype(const std::vector<Row>& rows, const Row& int_row) {
  std::vector<Row> table;
  for (DType t : kDtypes)
    for (Row r : rows) {
      r.t = t;
      table.push_back(r);
    }
  table.push_back(int_row);
  return table;
}

// A case of a one-input op on a `shape` input of dtype t (drawn with seed, which
// advances); integer and large inputs skip the gradient check.
OpCase one_input_case(const Shape& shape, DType t, uint64_t& seed, const std::string& what, Attrs attrs) {
  OpCase c;
  c.label = label(shape, t, what);
  c.inputs = {input_of(shape, t, seed++)};
  c.attrs = std::move(attrs);
  c.skip_grad = !is_floating(t) || shape.numel() > kMaxGradElems;
  return c;
}

DAGRAD_OP_CASES("reshape") {
  const std::vector<std::pair<Shape, std::vector<int64_t>>> table = {
      {{2, 3, 4}, {4, -1}},
      {{6}, {2, 3}},
      {{2, 3}, {6}},
      {{}, {1}},
      {{1}, {}},
      {{3, 1, 5}, {-1}},
      {{2, 3, 4}, {2, 1, -1, 3}},
      {{300, 400}, {400, 300}},
  };
  std::vector<OpCase> cases;
  uint64_t seed = 10000;
  for (const auto& [shape, target] : table)
    for (DType t : kDtypes) {
      OpCase c;
      c.label = label(shape, t, "to " + attr_to_string(target));
      c.inputs = {random_tensor(shape, t, seed++)};
      c.attrs = Attrs{{"shape", target}};
      c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
        std::vector<int64_t> dims = a.get_ints("shape");
        int64_t known = 1;
        for (int64_t d : dims) known *= d == -1 ? 1 : d;
        for (int64_t& d : dims)
          if (d == -1) d = in[0].numel() / known;
        return std::vector<Tensor>{gather_ref(in[0], Shape(dims), [](int64_t i) { return i; })};
      };
      c.skip_grad = shape.numel() > kMaxGradElems;
      cases.push_back(c);
    }
  return cases;
}

DAGRAD_OP_CASES("transpose") {
  struct Row {
    Shape shape;
    int64_t d0, d1;
    DType t = DType::f32;
  };
  const std::vector<Row> table = rows_per_dtype<Row>({{{3, 4}, 0, 1},
                                                      {{2, 3, 4}, -2, -1},
                                                      {{2, 3, 4}, 0, 2},
                                                      {{2, 3, 4}, 0, 1},
                                                      {{2, 3, 4}, 1, 1},
                                                      {{5}, 0, 0},
                                                      {{4, 1, 3}, 0, 2},
                                                      {{2, 300, 257}, -2, -1},
                                                      {{70, 33, 45}, 0, 2}},
                                                     {{37, 45}, 0, 1, DType::i64});
  std::vector<OpCase> cases;
  uint64_t seed = 11000;
  for (const Row& r : table) {
    OpCase c = one_input_case(r.shape, r.t, seed, str_cat("dims ", r.d0, ",", r.d1),
                              Attrs{{"dim0", r.d0}, {"dim1", r.d1}});
    c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
      size_t rank = in[0].rank();
      std::vector<int> perm(rank);
      for (size_t d = 0; d < rank; ++d) perm[d] = static_cast<int>(d);
      std::swap(perm[norm(a.get_int("dim0"), rank)], perm[norm(a.get_int("dim1"), rank)]);
      return std::vector<Tensor>{permute_ref(in[0], perm)};
    };
    cases.push_back(c);
  }
  return cases;
}

DAGRAD_OP_CASES("permute") {
  struct Row {
    Shape shape;
    std::vector<int64_t> perm;
    DType t = DType::f32;
  };
  const std::vector<Row> table = rows_per_dtype<Row>({{{2, 3, 4}, {2, 0, 1}},
                                                      {{2, 3, 4}, {1, 0, 2}},
                                                      {{2, 3, 4}, {0, 2, 1}},
                                                      {{2, 3, 4}, {0, 1, 2}},
                                                      {{2, 3, 4, 5}, {3, 1, 0, 2}},
                                                      {{1, 3, 1, 2}, {3, 2, 1, 0}},
                                                      {{3, 4}, {-1, 0}},
                                                      {{64, 40, 50}, {2, 0, 1}},
                                                      {{8, 16, 30, 31}, {0, 2, 3, 1}}},
                                                     {{3, 5, 7}, {1, 2, 0}, DType::i64});
  std::vector<OpCase> cases;
  uint64_t seed = 12000;
  for (const Row& r : table) {
    OpCase c = one_input_case(r.shape, r.t, seed, "perm " + attr_to_string(r.perm), Attrs{{"perm", r.perm}});
    c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
      std::vector<int> perm;
      for (int64_t p : a.get_ints("perm")) perm.push_back(norm(p, in[0].rank()));
      return std::vector<Tensor>{permute_ref(in[0], perm)};
    };
    cases.push_back(c);
  }
  return cases;
}

DAGRAD_OP_CASES("concat") {
  struct Row {
    std::vector<Shape> shapes;
    int64_t axis;
    DType t = DType::f32;
  };
  const std::vector<Row> table = rows_per_dtype<Row>({{{{2, 3}, {1, 3}, {4, 3}}, 0},
                                                      {{{2, 3}, {2, 1}, {2, 5}}, 1},
                                                      {{{2, 3, 4}, {2, 3, 1}, {2, 3, 2}}, -1},
                                                      {{{2, 3, 4}, {2, 5, 4}}, 1},
                                                      {{{3, 4}}, 0},
                                                      {{{5}, {7}}, 0},
                                                      {{{100, 700}, {100, 600}}, 1},
                                                      {{{1, 20000}, {1, 30001}}, 1}},
                                                     {{{2, 3}, {2, 2}}, 1, DType::i64});
  std::vector<OpCase> cases;
  uint64_t seed = 13000;
  for (const Row& r : table) {
    OpCase c;
    std::string shapes;
    int64_t total = 0;
    for (const Shape& s : r.shapes) {
      shapes += s.to_string();
      c.inputs.push_back(input_of(s, r.t, seed++));
      total += s.numel();
    }
    c.label = label(r.shapes[0], r.t, str_cat(shapes, " axis ", r.axis));
    c.attrs = Attrs{{"axis", r.axis}};
    c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
      const int ax = norm(a.get_int("axis"), in[0].rank());
      std::vector<int64_t> dims = dims_vec(in[0].shape());
      for (size_t k = 1; k < in.size(); ++k) dims[ax] += in[k].shape()[ax];
      Shape out(dims);
      // Which input holds output element i, and where.
      auto locate = [&](int64_t i) {
        std::vector<int64_t> c = coords_of(out, i);
        size_t k = 0;
        while (c[ax] >= in[k].shape()[ax]) c[ax] -= in[k++].shape()[ax];
        return std::pair{k, flat_of(in[k].shape(), c)};
      };
      if (is_floating(in[0].dtype()))
        return std::vector<Tensor>{make_f64(out, [&](int64_t i) {
          auto [k, j] = locate(i);
          return at(in[k], j);
        })};
      Tensor t = Tensor::empty(out, DType::i64);
      for (int64_t i = 0; i < out.numel(); ++i) {
        auto [k, j] = locate(i);
        t.data<int64_t>()[i] = in[k].data<int64_t>()[j];
      }
      return std::vector<Tensor>{t};
    };
    c.skip_grad = !is_floating(r.t) || total > kMaxGradElems;
    cases.push_back(c);
  }
  return cases;
}

DAGRAD_OP_CASES("slice") {
  struct Row {
    Shape shape;
    int64_t axis, start, end;
    DType t = DType::f32;
  };
  const std::vector<Row> table = rows_per_dtype<Row>({{{5}, 0, 1, 4},
                                                      {{3, 4, 5}, 1, 1, 3},
                                                      {{3, 4, 5}, 2, 2, 5},
                                                      {{3, 4, 5}, 0, 0, 1},
                                                      {{3, 4, 5}, 0, 0, 3},
                                                      {{3, 4, 5}, -1, -3, -1},
                                                      {{3, 4, 5}, 1, 2, 2},
                                                      {{4, 1, 6}, 1, 0, 1},
                                                      {{400, 300}, 0, 50, 350},
                                                      {{300, 400}, 1, 7, 399}},
                                                     {{6, 4}, 0, 2, 5, DType::i64});
  std::vector<OpCase> cases;
  uint64_t seed = 14000;
  for (const Row& r : table) {
    OpCase c = one_input_case(r.shape, r.t, seed, str_cat("axis ", r.axis, " [", r.start, ",", r.end, ")"),
                              Attrs{{"axis", r.axis}, {"start", r.start}, {"end", r.end}});
    c.reference = [](const std::vector<Tensor>& in, const Attrs& a) {
      const Shape& s = in[0].shape();
      const int ax = norm(a.get_int("axis"), s.rank());
      int64_t start = a.get_int("start"), end = a.get_int("end");
      if (start < 0) start += s[ax];
      if (end < 0) end += s[ax];
      std::vector<int64_t> dims = dims_vec(s);
      dims[ax] = end - start;
      Shape out(dims);
      return std::vector<Tensor>{gather_ref(in[0], out, [&](int64_t i) {
        std::vector<int64_t> c = coords_of(out, i);
        c[ax] += start;
        return flat_of(s, c);
      })};
    };
    cases.push_back(c);
  }
  return cases;
}

}  // namespace

}  // namespace dagrad::testing
