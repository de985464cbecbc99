// Pieces shared by the dagrad subcommands: data selection, compile switches, output dir.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>

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

  void add_to(CLI::App& cmd);
  scheduler::CompileOptions compile_options() const;
};

// Option checks whose errors read "--batch: must be > 0, got -3" (CLI11's own name the
// whole double range).
extern const CLI::Validator positive_number;
extern const CLI::Validator non_negative_number;

// The device named by --device ("cpu", "cuda", "cuda:1"); a GPU that cannot be used is
// a one-line DeviceError here, before any data is read or model built.
Device check_device(const std::string& device);

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

}  // namespace dagrad::cli
