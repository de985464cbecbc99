// ONNX's backend test suite (Debian's libonnx-testdata) as dagrad's measure of op
// coverage: every test directory holds model.onnx and test_data_set_N/ with input_K.pb
// and output_K.pb. Each test is imported with the data set's input shapes, compiled
// (fusion and memory planning on) and run on a device, and every output is compared with
// ONNX's tolerances (|got - want| <= atol + rtol |want|, NaN where NaN is expected).
#pragma once
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "runtime/device.h"

namespace dagrad::onnx {

struct Tolerance {
  double rtol = 1e-3, atol = 1e-7;
};

struct CaseResult {
  enum class Status { passed, failed, unsupported };
  std::string suite, name;  // "node", "test_abs"
  Status status = Status::unsupported;
  std::string reason;       // failed: what differed; unsupported: why
  double max_error = 0;     // failed: the largest |got - want| - rtol |want| over the outputs
  std::vector<std::string> op_types;  // of the model's nodes, sorted, unique
  std::string id() const { return suite + "/" + name; }
};
std::string_view status_name(CaseResult::Status s);

// One test directory.
CaseResult run_conformance_case(const std::filesystem::path& dir, const std::string& suite, Device device,
                                Tolerance tol = {});

// Every test directory of `suites` under `root` (in name order), reporting each result
// to `on_result` as it finishes.
std::vector<CaseResult> run_conformance(const std::filesystem::path& root, const std::vector<std::string>& suites,
                                        Device device, const std::function<void(const CaseResult&)>& on_result = {});

inline const char* kOnnxTestDataRoot = "/usr/share/libonnx-testdata/data";
inline const std::vector<std::string> kOnnxSuites = {"node", "pytorch-converted", "pytorch-operator", "simple"};

// The totals per suite and per op type (of failing and unsupported tests), ending with
// the line "onnx conformance: P passed of N".
std::string conformance_report(const std::vector<CaseResult>& results);

}  // namespace dagrad::onnx
