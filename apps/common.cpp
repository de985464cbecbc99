#include "apps/common.h"

#include "runtime/error.h"

namespace dagrad::cli {

void DataOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--data", data_dir, "directory of standard MNIST IDX files (train-*/t10k-*, plain or .gz); "
                                     "overrides --dataset");
  cmd.add_option("--dataset", dataset, "data set fetched by scripts/fetch_data.sh: mnist (real digits, "
                                       "8,000/2,000 split) or fashion (Fashion-MNIST 60,000/10,000)")
      ->check(CLI::IsMember({"mnist", "fashion"}))
      ->capture_default_str();
  cmd.add_option("--data-root", data_root, "where scripts/fetch_data.sh put the data sets")->capture_default_str();
  cmd.add_option("--norm", norm, "normalisation constants: mnist (0.1307/0.3081), fashion (0.2860/0.3530), or auto "
                                 "(the data set's own; with --data: mnist)")
      ->check(CLI::IsMember({"mnist", "fashion", "auto"}))
      ->capture_default_str();
}

std::filesystem::path DataOptions::directory() const {
  if (!data_dir.empty()) return data_dir;
  return std::filesystem::path(data_root) / dataset;
}

Normalization DataOptions::normalization() const {
  if (norm != "auto") return Normalization::named(norm);
  return Normalization::named(data_dir.empty() ? dataset : "mnist");
}

MnistDataset DataOptions::load(std::string_view split) const {
  std::filesystem::path dir = directory();
  if (!std::filesystem::is_directory(dir))
    throw IoError(str_cat("data directory '", dir.string(), "' does not exist",
                          data_dir.empty() ? "; run scripts/fetch_data.sh first, or pass --data DIR" : ""));
  return MnistDataset::load(dir, split, normalization());
}

void ScheduleOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--streams", streams, "streams to spread independent work over")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd.add_flag("--no-fusion", no_fusion, "run every elementwise op as its own kernel");
  cmd.add_flag("--no-memory-plan", no_memory_plan, "give every intermediate its own memory (no reuse)");
}

scheduler::CompileOptions ScheduleOptions::compile_options() const {
  scheduler::CompileOptions o;
  o.num_streams = streams;
  o.fuse = !no_fusion;
  o.plan_memory = !no_memory_plan;
  return o;
}

}  // namespace dagrad::cli
