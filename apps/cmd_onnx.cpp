// dagrad onnx: ONNX models from the command line: `conformance` runs ONNX's backend test
// suite, `run` runs a model on tensors from a safetensors file.
#include <iostream>

#include "apps/common.h"
#include "frontend/onnx/conformance.h"

namespace dagrad::cli {

namespace {

struct ConformanceArgs {
  std::string root = onnx::kOnnxTestDataRoot;
  std::vector<std::string> suites = onnx::kOnnxSuites;
  std::vector<std::string> tests;  // names; empty: all
  std::string device = "cpu";
  bool verbose = false;
};

void run_conformance_command(const ConformanceArgs& a) {
  const Device device = check_device(a.device);
  std::vector<onnx::CaseResult> results;
  auto report = [&](const onnx::CaseResult& r) {
    if (a.verbose || r.status != onnx::CaseResult::Status::passed)
      std::cout << onnx::status_name(r.status) << " " << r.id() << (r.reason.empty() ? "" : ": " + r.reason) << "\n"
                << std::flush;
  };
  if (a.tests.empty()) {
    results = onnx::run_conformance(a.root, a.suites, device, report);
  } else {
    for (const std::string& t : a.tests)
      for (const std::string& suite : a.suites)
        if (std::filesystem::exists(std::filesystem::path(a.root) / suite / t / "model.onnx")) {
          results.push_back(onnx::run_conformance_case(std::filesystem::path(a.root) / suite / t, suite, device));
          report(results.back());
        }
  }
  std::cout << onnx::conformance_report(results);
}

}  // namespace

Command add_onnx_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("onnx", "ONNX models: run ONNX's conformance suite");
  cmd->require_subcommand(1);
  auto c = std::make_shared<ConformanceArgs>();
  CLI::App* conf = cmd->add_subcommand(
      "conformance", "run ONNX's backend test suite (libonnx-testdata) and print the totals per suite and op type");
  conf->add_option("--root", c->root, "directory holding the suites")->capture_default_str();
  conf->add_option("--suite", c->suites, "suites to run (node, pytorch-converted, pytorch-operator, simple)");
  conf->add_option("--test", c->tests, "only these tests (directory names, e.g. test_abs)");
  conf->add_option("--device", c->device, "cpu or cuda[:N]")->capture_default_str();
  conf->add_flag("--verbose", c->verbose, "print passing tests too");
  return {cmd, [c, conf] {
            if (*conf) run_conformance_command(*c);
          }};
}

}  // namespace dagrad::cli
