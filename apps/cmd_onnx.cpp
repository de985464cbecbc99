// dagrad onnx: ONNX models from the command line: `conformance` runs ONNX's backend test
// suite, `run` runs a model on tensors from a safetensors file. dagrad export writes a
// trained model as ONNX.
#include <iostream>

#include "apps/common.h"
#include "apps/train_args.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/onnx/conformance.h"
#include "frontend/onnx/export.h"
#include "frontend/onnx/import.h"
#include "models/models.h"
#include "runtime/backend.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

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

struct RunArgs {
  std::string model, inputs, out, device = "cpu";
};

// The model's inputs by name from a safetensors file; its outputs, by name, to another.
void run_model_command(const RunArgs& a) {
  const Device device = check_device(a.device);
  const onnx::Model model = onnx::Model::load(a.model);
  const Checkpoint in = load_safetensors(a.inputs);
  onnx::InputShapes shapes;
  TensorMap bind;
  for (const onnx::ValueInfo& info : model.inputs()) {
    auto it = in.tensors.find(info.name);
    if (it == in.tensors.end())
      throw ValueError(str_cat(a.inputs, " has no tensor named '", info.name, "' (an input of the model)"));
    shapes[info.name] = it->second.shape().dims();
    bind[info.name] = it->second;
  }
  const onnx::Imported im = onnx::import_model(model, shapes, onnx::Initializers::constants, &bind);
  scheduler::Executor exec(scheduler::compile(*im.graph, im.outputs), backend_for(device));
  const std::vector<Tensor> got = exec.run(bind);
  NamedTensors outs;
  for (size_t i = 0; i < got.size(); ++i) {
    const std::string& name = model.outputs()[i].name;
    outs[name] = got[i].device().is_cpu() ? got[i] : got[i].to(Device::cpu());
    std::cout << name << ": " << got[i].shape().to_string() << " " << dtype_name(got[i].dtype()) << "\n";
  }
  prepare_output_file(a.out, "--out");
  save_safetensors(a.out, outs);
  std::cout << "wrote " << a.out << "\n";
}

}  // namespace

Command add_export_command(CLI::App& app) {
  struct Args {
    CheckpointArgs ckpt;
    std::string out;
    int64_t batch = 1;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand(
      "export", "write a trained model's inference graph as an ONNX model (opset 13 or later), checked by ONNX's checker");
  cmd->add_option("--model", a->ckpt.model, model_help() + " (default: the checkpoint's)")
      ->check(model_name);
  cmd->add_option("--load", a->ckpt.load, "checkpoint written by dagrad train")->required()->check(CLI::ExistingFile);
  cmd->add_option("--out", a->out, "the ONNX file to write (atomically)")->required();
  cmd->add_option("--batch", a->batch, "the batch dimension of the exported input")
      ->check(positive_number)
      ->capture_default_str();
  return {cmd, [a] {
            prepare_output_file(a->out, "--out");
            std::unique_ptr<Trainer> trainer = a->ckpt.load_trainer();
            auto model = models::load_model(model_for_checkpoint(a->ckpt.model, a->ckpt.load));
            model->train(false);
            Graph g;
            Value x = g.input("images", Shape{a->batch, 1, 28, 28});
            Value y = (*model)(x);
            onnx::ExportOptions opt;
            opt.output_names = {"log_probs"};
            onnx::export_model(g, std::vector<Value>{y}, trainer->state(), a->out, opt);
            std::cout << "wrote " << a->out << " (input images [" << a->batch << ",1,28,28], output log_probs)\n";
          }};
}

Command add_onnx_command(CLI::App& app) {
  CLI::App* cmd = app.add_subcommand("onnx", "ONNX models: run one on tensors, or run ONNX's conformance suite");
  cmd->require_subcommand(1);
  auto c = std::make_shared<ConformanceArgs>();
  CLI::App* conf = cmd->add_subcommand(
      "conformance", "run ONNX's backend test suite (libonnx-testdata) and print the totals per suite and op type");
  conf->add_option("--root", c->root, "directory holding the suites")->capture_default_str();
  conf->add_option("--suite", c->suites, "suites to run (node, pytorch-converted, pytorch-operator, simple)");
  conf->add_option("--test", c->tests, "only these tests (directory names, e.g. test_abs)");
  conf->add_option("--device", c->device, "cpu or cuda[:N]")->capture_default_str();
  conf->add_flag("--verbose", c->verbose, "print passing tests too");
  auto r = std::make_shared<RunArgs>();
  CLI::App* run = cmd->add_subcommand("run", "run an ONNX model on tensors named as its inputs, writing its outputs");
  run->add_option("model", r->model, "the ONNX model")->required()->check(CLI::ExistingFile);
  run->add_option("--inputs", r->inputs, "safetensors file with one tensor per model input, by name")
      ->required()
      ->check(CLI::ExistingFile);
  run->add_option("--out", r->out, "safetensors file for the outputs, by name (written atomically)")->required();
  run->add_option("--device", r->device, "cpu or cuda[:N]")->capture_default_str();
  return {cmd, [c, conf, r, run] {
            if (*conf) run_conformance_command(*c);
            if (*run) run_model_command(*r);
          }};
}

}  // namespace dagrad::cli
