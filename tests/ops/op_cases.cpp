#include "op_cases.h"

#include <gtest/gtest.h>

#include <cstring>

#include "ops/op_def.h"
#include "ops/registry.h"
#include "runtime/thread_pool.h"

namespace dagrad::testing {

std::map<std::string, std::vector<CaseGenerator>>& op_case_table() {
  static std::map<std::string, std::vector<CaseGenerator>> table;
  return table;
}

Tensor random_tensor(const Shape& shape, DType dtype, uint64_t seed, double lo, double hi, bool avoid_zero) {
  Tensor t = Tensor::empty(shape, DType::f64);
  Generator gen(seed);
  fill_uniform(t, gen, lo, hi);
  if (avoid_zero) {
    double* p = t.data<double>();
    for (int64_t i = 0; i < t.numel(); ++i)
      if (p[i] > -0.05 && p[i] < 0.05) p[i] = p[i] < 0 ? p[i] - 0.1 : p[i] + 0.1;
  }
  return dtype == DType::f64 ? t : t.to_dtype(dtype);
}

Tensor random_labels(int64_t n, int64_t classes, uint64_t seed) {
  Tensor t = Tensor::empty(Shape{n}, DType::i64);
  for (int64_t i = 0; i < n; ++i) t.data<int64_t>()[i] = random_bits(seed, i) % classes;
  return t;
}

double at(const Tensor& t, int64_t i) {
  return dispatch_all(t.dtype(), [&]<class T>() { return static_cast<double>(t.data<T>()[i]); });
}

Tensor make_f64(const Shape& shape, const std::function<double(int64_t)>& f) {
  Tensor t = Tensor::empty(shape, DType::f64);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<double>()[i] = f(i);
  return t;
}

Tensor to_f64(const Tensor& t) { return is_floating(t.dtype()) ? t.to_dtype(DType::f64) : t; }

std::vector<Value> OpGraph::outputs() const {
  std::vector<Value> outs;
  for (size_t o = 0; o < op_node().outputs.size(); ++o) outs.push_back(op_node().output(static_cast<int>(o)));
  return outs;
}

OpGraph op_graph(const OpDef& def, const OpCase& c, bool in_f64) {
  OpGraph og;
  for (size_t i = 0; i < c.inputs.size(); ++i) {
    const std::string name = str_cat("in", i);
    const Tensor t = in_f64 ? to_f64(c.inputs[i]) : c.inputs[i];
    og.inputs.push_back(og.graph->input(name, t.shape(), t.dtype()));
    og.bindings[name] = t;
  }
  og.node = og.graph->add_node(def, og.inputs, c.attrs, c.params, "op", std::source_location::current());
  return og;
}

std::vector<std::pair<const OpDef*, std::vector<OpCase>>> elementwise_op_cases() {
  std::vector<std::pair<const OpDef*, std::vector<OpCase>>> out;
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (!d->elementwise) continue;
    auto gens = op_case_table().find(d->name);
    if (gens == op_case_table().end()) {
      ADD_FAILURE() << d->name << " has a per-element form but no reference cases";
      continue;
    }
    out.emplace_back(d, gens->second.front()());
  }
  return out;
}

TensorMap deep_copy(const TensorMap& bindings) {
  TensorMap copy;
  for (const auto& [name, t] : bindings) copy[name] = t.clone();
  return copy;
}

void expect_same_for_thread_counts(const Graph& g, const std::vector<Value>& outs, const TensorMap& bind) {
  std::vector<Tensor> first;
  for (int threads : {1, 2, 3, 5}) {
    set_num_threads(threads);
    std::vector<Tensor> got = interpret(g, outs, bind);
    if (first.empty()) {
      first = got;
      continue;
    }
    for (size_t i = 0; i < got.size(); ++i)
      EXPECT_EQ(std::memcmp(got[i].raw_data(), first[i].raw_data(), got[i].nbytes()), 0)
          << "output " << i << " (" << outs[i].producer().op_name() << ") differs with " << threads << " threads";
  }
  set_num_threads(0);
}

Attrs hw_attrs(std::initializer_list<HwAttr> attrs) {
  Attrs a;
  for (const HwAttr& hw : attrs) a.set(hw.name, std::vector<int64_t>{hw.h, hw.w});
  return a;
}

int64_t broadcast_index(const Shape& out, const Shape& in, int64_t flat_out) {
  int64_t idx = 0, in_stride = 1;
  size_t offset = out.rank() - in.rank();
  for (size_t d = out.rank(); d-- > 0;) {
    int64_t coord = flat_out % out[d];
    flat_out /= out[d];
    if (d >= offset) {
      int64_t in_dim = in[d - offset];
      if (in_dim != 1) idx += coord * in_stride;
      in_stride *= in_dim;
    }
  }
  return idx;
}

}  // namespace dagrad::testing
