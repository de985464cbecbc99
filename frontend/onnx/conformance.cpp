#include "frontend/onnx/conformance.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "frontend/onnx/import.h"
#include "frontend/onnx/tensor_proto.h"
#include "runtime/backend.h"
#include "runtime/convert.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::onnx {

namespace fs = std::filesystem;

std::string_view status_name(CaseResult::Status s) {
  switch (s) {
    case CaseResult::Status::passed: return "passed";
    case CaseResult::Status::failed: return "failed";
    case CaseResult::Status::unsupported: return "unsupported";
  }
  return "?";
}

namespace {

// ONNX 1.12's test data stores bfloat16 tensors as uint16 tensors of their bit patterns:
// read as bfloat16 where the model (or its output) has that type.
Tensor as_dtype_of_bits(const Tensor& t, DType want) {
  if (!(want == DType::bf16 && t.dtype() == DType::u16)) return t;
  Tensor out = Tensor::empty(t.shape(), want);
  if (t.nbytes()) std::memcpy(out.raw_data(), t.raw_data(), t.nbytes());
  return out;
}

std::vector<fs::path> numbered(const fs::path& dir, const std::string& prefix) {
  std::vector<fs::path> files;
  for (int k = 0;; ++k) {
    fs::path p = dir / str_cat(prefix, k, ".pb");
    if (!fs::exists(p)) break;
    files.push_back(p);
  }
  return files;
}

double element(const Tensor& t, int64_t i) {
  return dispatch_all(t.dtype(), [&]<class T>() { return convert<double>(t.data<T>()[i]); });
}

// "" when `got` matches `want`; else what differs. *excess: the worst |d| - rtol |want|.
std::string compare(const Tensor& got, const Tensor& want, Tolerance tol, double* excess) {
  if (got.shape() != want.shape())
    return str_cat("shape ", got.shape().to_string(), ", expected ", want.shape().to_string());
  if (is_float(got.dtype()) != is_float(want.dtype()))
    return str_cat("dtype ", dtype_name(got.dtype()), ", expected ", dtype_name(want.dtype()));
  std::string what;
  for (int64_t i = 0; i < got.numel(); ++i) {
    const double g = element(got, i), w = element(want, i);
    if (std::isnan(w) || std::isnan(g)) {
      if (std::isnan(w) != std::isnan(g)) {
        *excess = INFINITY;
        if (what.empty()) what = str_cat("element ", i, ": ", g, ", expected ", w);
      }
      continue;
    }
    if (g == w) continue;  // infinities too
    const double d = std::abs(g - w) - tol.rtol * std::abs(w);
    if (d > tol.atol || std::isnan(d)) {
      if (d > *excess || std::isnan(d)) {
        *excess = std::isnan(d) ? INFINITY : d;
        what = str_cat("element ", i, ": ", g, ", expected ", w);
      }
    }
  }
  return what;
}

std::vector<std::string> op_types_of(const fs::path& model) {
  ::onnx::ModelProto m;
  std::ifstream in(model, std::ios::binary);
  std::set<std::string> ops;
  if (m.ParseFromIstream(&in))
    for (const auto& n : m.graph().node()) ops.insert(n.op_type());
  return {ops.begin(), ops.end()};
}

}  // namespace

CaseResult run_conformance_case(const fs::path& dir, const std::string& suite, Device device, Tolerance tol) {
  CaseResult r;
  r.suite = suite;
  r.name = dir.filename().string();
  r.op_types = op_types_of(dir / "model.onnx");
  std::vector<fs::path> sets;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory() && e.path().filename().string().starts_with("test_data_set_")) sets.push_back(e.path());
  std::sort(sets.begin(), sets.end());
  if (sets.empty()) {
    r.reason = "no test data sets";
    return r;
  }
  try {
    const Model model = Model::load(dir / "model.onnx");
    for (const fs::path& set : sets) {
      std::vector<Tensor> inputs, expected;
      for (const fs::path& p : numbered(set, "input_")) inputs.push_back(read_tensor_file(p.string()));
      for (const fs::path& p : numbered(set, "output_")) expected.push_back(read_tensor_file(p.string()));
      if (inputs.size() != model.inputs().size())
        throw UnsupportedError(str_cat("the data set has ", inputs.size(), " inputs, the model ", model.inputs().size(),
                                       " (optional inputs given as empty)"));
      InputShapes shapes;
      TensorMap bind;
      for (size_t i = 0; i < inputs.size(); ++i) {
        shapes[model.inputs()[i].name] = inputs[i].shape().dims();
        bind[model.inputs()[i].name] = as_dtype_of_bits(inputs[i], model.inputs()[i].dtype);
      }
      Imported im;
      try {
        im = import_model(model, shapes, Initializers::constants, &bind);
      } catch (const UnsupportedError&) {
        throw;
      } catch (const Error& e) {  // a translation dagrad cannot do for these types or shapes
        throw UnsupportedError(e.what());
      }
      if (im.outputs.size() != expected.size())
        throw UnsupportedError(str_cat("the model has ", im.outputs.size(), " outputs, the data set ", expected.size()));
      scheduler::Executor exec(scheduler::compile(*im.graph, im.outputs), backend_for(device));
      TensorMap run_inputs;
      for (auto& [name, t] : bind) run_inputs[name] = t;
      std::vector<Tensor> got = exec.run(run_inputs);
      for (size_t o = 0; o < got.size(); ++o) {
        double excess = 0;
        const Tensor g = got[o].device().is_cpu() ? got[o] : got[o].to(Device::cpu());
        std::string diff = compare(g, as_dtype_of_bits(expected[o], g.dtype()), tol, &excess);
        if (!diff.empty()) {
          r.status = CaseResult::Status::failed;
          r.max_error = std::max(r.max_error, excess);
          if (r.reason.empty()) r.reason = str_cat(set.filename().string(), " output ", o, ": ", diff);
        }
      }
    }
    if (r.status != CaseResult::Status::failed) r.status = CaseResult::Status::passed;
  } catch (const UnsupportedError& e) {
    r.status = CaseResult::Status::unsupported;
    r.reason = e.what();
  } catch (const std::exception& e) {
    r.status = CaseResult::Status::failed;
    r.reason = e.what();
    r.max_error = INFINITY;
  }
  return r;
}

std::vector<CaseResult> run_conformance(const fs::path& root, const std::vector<std::string>& suites, Device device,
                                        const std::function<void(const CaseResult&)>& on_result) {
  std::vector<CaseResult> results;
  for (const std::string& suite : suites) {
    const fs::path dir = root / suite;
    if (!fs::is_directory(dir)) throw IoError(str_cat("no ONNX test suite at '", dir.string(), "'"));
    std::vector<fs::path> tests;
    for (const auto& e : fs::directory_iterator(dir))
      if (e.is_directory() && fs::exists(e.path() / "model.onnx")) tests.push_back(e.path());
    std::sort(tests.begin(), tests.end());
    for (const fs::path& t : tests) {
      results.push_back(run_conformance_case(t, suite, device));
      if (on_result) on_result(results.back());
    }
  }
  return results;
}

std::string conformance_report(const std::vector<CaseResult>& results) {
  struct Count {
    int passed = 0, failed = 0, unsupported = 0;
    int total() const { return passed + failed + unsupported; }
  };
  std::map<std::string, Count> by_suite, by_op;
  Count all;
  for (const CaseResult& r : results) {
    auto add = [&](Count& c) {
      (r.status == CaseResult::Status::passed ? c.passed
       : r.status == CaseResult::Status::failed ? c.failed
                                                 : c.unsupported)++;
    };
    add(by_suite[r.suite]);
    add(all);
    if (r.status != CaseResult::Status::passed)
      for (const std::string& op : r.op_types) add(by_op[op]);
  }
  std::ostringstream os;
  char line[160];
  os << "per suite:\n";
  std::snprintf(line, sizeof line, "  %-20s %7s %7s %12s %7s\n", "suite", "passed", "failed", "unsupported", "total");
  os << line;
  for (const auto& [suite, c] : by_suite) {
    std::snprintf(line, sizeof line, "  %-20s %7d %7d %12d %7d\n", suite.c_str(), c.passed, c.failed, c.unsupported,
                  c.total());
    os << line;
  }
  os << "op types in tests that did not pass (tests failed / unsupported):\n";
  std::vector<std::pair<std::string, Count>> ops(by_op.begin(), by_op.end());
  std::sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) {
    return a.second.total() != b.second.total() ? a.second.total() > b.second.total() : a.first < b.first;
  });
  for (const auto& [op, c] : ops) {
    std::snprintf(line, sizeof line, "  %-28s %4d failed %4d unsupported\n", op.c_str(), c.failed, c.unsupported);
    os << line;
  }
  os << "onnx conformance: " << all.passed << " passed of " << all.total() << "\n";
  return os.str();
}

}  // namespace dagrad::onnx
