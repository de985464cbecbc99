// Reference cases for matmul: every transpose combination, batches (equal or with a
// shared 2-D b), size-1 and odd dimensions, and shapes large enough to be tiled.
#include "op_cases.h"

namespace dagrad::testing {

namespace {

// [..., M, K] x [..., K, N] with plain loops in double; b may be 2-D (shared).
std::vector<Tensor> matmul_reference(const std::vector<Tensor>& in, const Attrs& attrs) {
  const Tensor &a = in[0], &b = in[1];
  bool ta = attrs.get_bool_or("trans_a", false), tb = attrs.get_bool_or("trans_b", false);
  const Shape &as = a.shape(), &bs = b.shape();
  int64_t m = ta ? as.dim(-1) : as.dim(-2), k = ta ? as.dim(-2) : as.dim(-1);
  int64_t n = tb ? bs.dim(-2) : bs.dim(-1);
  std::vector<int64_t> out(as.begin(), as.end() - 2);
  int64_t batch = 1;
  for (int64_t d : out) batch *= d;
  out.push_back(m);
  out.push_back(n);
  bool shared = bs.rank() == 2;
  const std::vector<double> va = a.to_dtype(DType::f64).to_vector<double>();
  const std::vector<double> vb = b.to_dtype(DType::f64).to_vector<double>();
  Tensor c = Tensor::zeros(Shape(out), DType::f64);
  double* pc = c.data<double>();
  for (int64_t bi = 0; bi < batch; ++bi)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < k; ++p) {
          int64_t ai = bi * m * k + (ta ? p * m + i : i * k + p);
          int64_t bj = (shared ? 0 : bi * k * n) + (tb ? j * k + p : p * n + j);
          acc += va[ai] * vb[bj];
        }
        pc[(bi * m + i) * n + j] = acc;
      }
  return {c};
}

// a and b are given in their stored layout (already transposed where trans_* is set).
// check_grad=false for large shapes: the vjp rules do not depend on size, and finite
// differences over them would dominate the gradient test's run time.
void add_matmul_cases(std::vector<OpCase>& cases, const std::string& label, const Shape& a, const Shape& b, bool ta,
                      bool tb, uint64_t seed, bool check_grad = true) {
  // bfloat16 operands: exact products, float32 sums (and a float32 result), so float32's
  // tolerance; their gradients are float64's to check.
  for (DType dt : {DType::f32, DType::f64, DType::bf16}) {
    OpCase c;
    c.label = str_cat(label, " ", a.to_string(), (ta ? "^T" : ""), " x ", b.to_string(), (tb ? "^T" : ""), " ",
                      dtype_name(dt));
    c.inputs = {random_tensor(a, dt, seed), random_tensor(b, dt, seed + 1)};
    if (ta) c.attrs.set("trans_a", true);
    if (tb) c.attrs.set("trans_b", true);
    c.reference = matmul_reference;
    c.tol = dt == DType::f64 ? 1e-10 : 1e-4;
    c.skip_grad = !check_grad || dt == DType::bf16;
    cases.push_back(c);
  }
}

}  // namespace

DAGRAD_OP_CASES("matmul") {
  std::vector<OpCase> cases;
  // 2-D, all four transpose combinations of a 7x13 · 13x5 product.
  add_matmul_cases(cases, "2-D", {7, 13}, {13, 5}, false, false, 10);
  add_matmul_cases(cases, "2-D trans_a", {13, 7}, {13, 5}, true, false, 20);
  add_matmul_cases(cases, "2-D trans_b", {7, 13}, {5, 13}, false, true, 30);
  add_matmul_cases(cases, "2-D both", {13, 7}, {5, 13}, true, true, 40);
  // Size-1 dimensions: a dot product, an outer product, a single row.
  add_matmul_cases(cases, "dot", {1, 6}, {6, 1}, false, false, 50);
  add_matmul_cases(cases, "outer", {4, 1}, {1, 3}, false, false, 60);
  add_matmul_cases(cases, "1x1", {1, 1}, {1, 1}, false, false, 70);
  add_matmul_cases(cases, "row", {1, 9}, {4, 9}, false, true, 80);
  // K = 0: an empty sum, all zeros (nothing to differentiate).
  add_matmul_cases(cases, "empty K", {3, 0}, {0, 4}, false, false, 85, false);
  // Batched, equal batch dims.
  add_matmul_cases(cases, "batched", {3, 4, 6}, {3, 6, 5}, false, false, 90);
  add_matmul_cases(cases, "batched trans", {3, 6, 4}, {3, 5, 6}, true, true, 100);
  add_matmul_cases(cases, "batched 4-D", {2, 3, 4, 5}, {2, 3, 5, 2}, false, false, 110);
  add_matmul_cases(cases, "batched 4-D trans_a", {2, 3, 5, 4}, {2, 3, 5, 2}, true, false, 115);
  add_matmul_cases(cases, "batch of 1", {1, 3, 2}, {1, 2, 4}, false, false, 120);
  // Batched with a shared 2-D b (folded into rows, or per batch when a is transposed).
  add_matmul_cases(cases, "shared b", {3, 5, 4}, {4, 6}, false, false, 130);
  add_matmul_cases(cases, "shared b trans_b", {2, 2, 5, 4}, {6, 4}, false, true, 140);
  add_matmul_cases(cases, "shared b trans_a", {3, 4, 5}, {4, 6}, true, false, 150);
  add_matmul_cases(cases, "shared b both", {3, 4, 5}, {6, 4}, true, true, 160);
  // Large enough to be cut into row and column tiles, including ragged edge tiles.
  add_matmul_cases(cases, "tiled", {130, 257}, {257, 150}, false, false, 170, false);
  add_matmul_cases(cases, "tiled both", {257, 130}, {150, 257}, true, true, 180, false);
  add_matmul_cases(cases, "tiled shared b", {2, 70, 257}, {257, 150}, false, false, 190, false);
  return cases;
}

}  // namespace dagrad::testing
