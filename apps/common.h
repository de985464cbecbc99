// Pieces shared by the dagrad subcommands: data selection, compile switches, output dir.
#pragma once
#include <CLI/CLI.hpp>
#include <filesystem>
#include <functional>
#include <string>

#include "frontend/data/mnist.h"
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

  void add_to(CLI::App& cmd);
  scheduler::CompileOptions compile_options() const;
};

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
