// Pieces shared by the dagrad subcommands: data selection, compile switches, output dir.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "frontend/data/mnist.h"
#include "runtime/device.h"
#include "scheduler/compile_options.h"

namespace dagrad::cli {

struct DataOptions {
  std::string data_dir;         // --data DIR: any directory of standard IDX files
  std::string dataset = "mnist";  // --dataset mnist|fashion under --data-root
  std::string data_root = "data";
  std::string norm = "auto";    // normalisation constants: mnist|fashion|auto

  void add_to(CLI::App& cmd);
  std::filesystem::path directory() const;
  Normalization normalization() const;
  MnistDataset load(std::string_view split) const;
};

struct ScheduleOptions {
  int streams = 1;
  bool no_fusion = false;
  bool no_memory_plan = false;
  double bucket_mb = 1.0;  // data parallel: MiB of gradients per all-reduce
  bool allreduce = false;  // all-reduce nodes even in one process
  std::string precision = "f32";  // f32 | bf16 (mixed precision)
  bool tf32 = false;              // CUDA: TF32 tensor cores for float32 products
  double memory_budget_mib = 0;  // planned peak limit; 0: none

  void add_to(CLI::App& cmd);
  scheduler::CompileOptions compile_options() const;
};

// --precision f32|bf16 (bench shares it).
void add_precision_option(CLI::App& cmd, std::string& precision);
// --memory-budget MiB as bytes.
size_t mib_to_bytes(double mib);

// Option checks whose errors read "--batch: must be > 0, got -3" (CLI11's own name the
// whole double range).
extern const CLI::Validator positive_number;
// --model: a built-in model's name, or an ONNX file (ending in .onnx) that exists.
extern const CLI::Validator model_name;
// --model's help: "mnist-cnn, lenet5, mlp, mnist-vit, or an ONNX model FILE.onnx".
std::string model_help();
extern const CLI::Validator non_negative_number;

// The device named by --device ("cpu", "cuda", "cuda:1"); a GPU that cannot be used is
// a one-line DeviceError here, before any data is read or model built.
Device check_device(const std::string& device);

// Output paths are checked before any work is done, so that a bad --out fails at once
// instead of after an hour of training. Makes `dir` and its parents; an IoError names
// the flag, the path and the reason when that is impossible (a file is in the way, ...).
void prepare_output_directory(const std::filesystem::path& dir, std::string_view flag);
// The same for a file written later (--save): its directory is made, and the path must
// not name a directory.
void prepare_output_file(const std::filesystem::path& file, std::string_view flag);

// The model to build for a checkpoint: --model when given (the checkpoint must then be
// of it, which loading checks), otherwise the model the checkpoint names.
std::string model_for_checkpoint(const std::string& model_flag, const std::filesystem::path& checkpoint);

// A subcommand and what it runs once the whole command line parsed.
struct Command {
  CLI::App* app;
  std::function<void()> run;
};
Command add_train_command(CLI::App& app);
Command add_eval_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_plan_command(CLI::App& app);
Command add_profile_command(CLI::App& app);
Command add_bench_command(CLI::App& app);
Command add_onnx_command(CLI::App& app);
Command add_export_command(CLI::App& app);

}  // namespace dagrad::cli
