#include "apps/common.h"

#include <algorithm>
#include <system_error>

#include "comm/communicator.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "runtime/backend.h"
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

void add_precision_option(CLI::App& cmd, std::string& precision) {
  cmd.add_option("--precision", precision,
                 "f32, or bf16: mixed precision (GEMM and convolution operands in bfloat16 with float32 "
                 "accumulation; parameters, optimizer state, losses, softmax, reductions and updates in float32)")
      ->check(CLI::IsMember({"f32", "bf16"}))
      ->capture_default_str();
}

void ScheduleOptions::add_to(CLI::App& cmd) {
  cmd.add_option("--streams", streams, "streams to spread independent work over")
      ->check(CLI::Range(1, 16))
      ->capture_default_str();
  cmd.add_flag("--no-fusion", no_fusion, "run every elementwise op as its own kernel");
  cmd.add_flag("--no-memory-plan", no_memory_plan, "give every intermediate its own memory (no reuse)");
  cmd.add_option("--bucket-mb", bucket_mb,
                 "under mpirun (data parallel): MiB of gradients averaged by one all-reduce, in the order backward "
                 "produces them; each optimizer update waits only for its own bucket")
      ->check(positive_number)
      ->capture_default_str();
  cmd.add_option("--memory-budget", memory_budget_mib,
                 "MiB the planned peak may take: above it, values held across the peak are dropped and recomputed "
                 "for their later readers (cheapest per byte first); 0: no limit")
      ->check(non_negative_number)
      ->capture_default_str();
  cmd.add_flag("--allreduce", allreduce,
               "add the gradient all-reduce nodes (and the communication stream) even in one process, to see or "
               "time the data-parallel plan");
  add_precision_option(cmd, precision);
  cmd.add_flag("--tf32", tf32,
               "on CUDA, let float32 GEMMs and convolutions use TF32 tensor cores (inputs rounded to 10 mantissa "
               "bits, float32 accumulation): faster, but results change");
}

size_t mib_to_bytes(double mib) { return static_cast<size_t>(mib * 1024.0 * 1024.0); }

scheduler::CompileOptions ScheduleOptions::compile_options() const {
  scheduler::CompileOptions o;
  o.num_streams = streams;
  o.fuse = !no_fusion;
  o.plan_memory = !no_memory_plan;
  o.precision = parse_dtype(precision);
  o.memory_budget = mib_to_bytes(memory_budget_mib);
  return o;
}

namespace {
CLI::Validator number_check(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& text) -> std::string {
        double v = 0;
        if (!CLI::detail::lexical_cast(text, v)) return str_cat("must be a number, got '", text, "'");
        if (v > 0 || (zero_allowed && v == 0)) return {};
        return str_cat(zero_allowed ? "must be >= 0" : "must be > 0", ", got ", text);
      },
      zero_allowed ? "NONNEGATIVE" : "POSITIVE");
}
}  // namespace

const CLI::Validator positive_number = number_check(false);

const CLI::Validator model_name(
    [](std::string& v) -> std::string {
      const std::vector<std::string> known = models::model_names();
      if (std::find(known.begin(), known.end(), v) != known.end()) return "";
      if (models::is_onnx_path(v))
        return std::filesystem::is_regular_file(v) ? "" : str_cat("ONNX model '", v, "' does not exist");
      std::string list;
      for (const std::string& k : known) list += k + ",";
      return str_cat(v, " not in {", list.substr(0, list.size() - 1), "} and not a .onnx file");
    },
    "MODEL");
const CLI::Validator non_negative_number = number_check(true);

std::string model_help() {
  std::string s;
  for (const std::string& name : models::model_names()) s += name + ", ";
  return s + "or an ONNX model FILE.onnx";
}

namespace {
// `what` names the directory in an error: "--out 'runs/a'" or "--save 'm.st': its directory 'x'".
void make_directory(const std::filesystem::path& dir, const std::string& what) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw IoError(str_cat(what, " is a file, not a directory"));
  fs::create_directories(dir, ec);
  if (ec) throw IoError(str_cat(what, ": cannot create the directory: ", ec.message()));
}
}  // namespace

void prepare_output_directory(const std::filesystem::path& dir, std::string_view flag) {
  make_directory(dir, str_cat(flag, " '", dir.string(), "'"));
}

void prepare_output_file(const std::filesystem::path& file, std::string_view flag) {
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec))
    throw IoError(str_cat(flag, " '", file.string(), "' is a directory; name a file"));
  if (file.has_parent_path())
    make_directory(file.parent_path(), str_cat(flag, " '", file.string(), "': its directory '",
                                               file.parent_path().string(), "'"));
}

std::string model_for_checkpoint(const std::string& model_flag, const std::filesystem::path& checkpoint) {
  if (!model_flag.empty()) return model_flag;
  std::string model = checkpoint_model_name(checkpoint);
  std::vector<std::string> known = models::model_names();
  if (std::find(known.begin(), known.end(), model) == known.end() &&
      !(models::is_onnx_path(model) && std::filesystem::is_regular_file(model)))
    throw ValueError(str_cat(checkpoint.string(), ": the checkpoint is of model '", model,
                             "', which this dagrad does not have; pass --model"));
  return model;
}

Device check_device(const std::string& device) {
  Device d = Device::parse(device);
  if (d.is_cpu()) return d;
  backend_for(d);  // throws the reason ("built without CUDA", "no CUDA device ...")
  // Under mpirun a plain "cuda" is this rank's own GPU: local rank R takes GPU R (mod count).
  if (device == "cuda" && comm::launched_by_mpi()) d = Device::cuda(comm::local_rank() % cuda_device_count());
  return d;
}

}  // namespace dagrad::cli
