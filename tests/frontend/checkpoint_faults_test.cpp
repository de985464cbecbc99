// Checkpoints that cannot be written or do not fit the model: the trainer refuses them
// with a message naming the path and the problem, and never damages a good checkpoint.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <sstream>

#include "test_files.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/trainer.h"
#include "models/models.h"
#include "tests/error_of.h"

namespace dagrad {
namespace {

using testing::error_of;
using testing::TempDir;

TrainConfig mlp_config() {
  TrainConfig cfg;
  cfg.model_name = "mlp";
  cfg.epochs = 1;
  cfg.batch_size = 32;
  cfg.progress = false;
  return cfg;
}

std::string file_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Saves the MLP's checkpoint at `path`, lets `edit` change its tensors, writes it back and
// returns the message of the E that loading it into the model throws.
template <class E>
std::string load_error_after_edit(const std::filesystem::path& path, const std::function<void(NamedTensors&)>& edit) {
  std::ostringstream log;
  Trainer trainer(models::mlp(), mlp_config(), log);
  trainer.save(path);
  Checkpoint ck = load_safetensors(path);
  edit(ck.tensors);
  save_safetensors(path, ck.tensors, ck.metadata);
  return error_of<E>([&] { trainer.load_parameters(path); });
}

TEST(CheckpointFaults, UnwritablePathIsAnIoErrorNamingIt) {
  TempDir dir;
  std::ostringstream log;
  Trainer trainer(models::mlp(), mlp_config(), log);
  std::filesystem::path nowhere = dir / "no_such_dir" / "mlp.safetensors";
  std::string msg = error_of<IoError>([&] { trainer.save(nowhere); });
  EXPECT_NE(msg.find("cannot create '" + nowhere.string() + ".tmp': No such file or directory"), std::string::npos)
      << msg;
  EXPECT_FALSE(std::filesystem::exists(nowhere.parent_path()));
}

TEST(CheckpointFaults, FailedSaveLeavesTheLastGoodCheckpoint) {
  TempDir dir;
  std::ostringstream log;
  Trainer trainer(models::mlp(), mlp_config(), log);
  std::filesystem::path path = dir / "mlp.safetensors";
  trainer.save(path);
  std::string good = file_bytes(path);
  trainer.state().at("fc1.weight").fill(0.5);  // what a failed save must not leave behind
  std::filesystem::create_directory(dir / "mlp.safetensors.tmp");  // blocks the temp file
  std::string msg = error_of<IoError>([&] { trainer.save(path); });
  EXPECT_NE(msg.find("mlp.safetensors.tmp"), std::string::npos) << msg;
  EXPECT_EQ(file_bytes(path), good);
  // The good checkpoint still loads.
  Trainer other(models::mlp(), mlp_config(), log);
  other.load_parameters(path);
  EXPECT_NE(other.state().at("fc1.weight").to_vector<float>()[0], 0.5f);
}

TEST(CheckpointFaults, TensorOfTheWrongDtypeIsRefused) {
  TempDir dir;
  std::filesystem::path path = dir / "mlp.safetensors";
  std::string msg = load_error_after_edit<ShapeError>(
      path, [](NamedTensors& t) { t.at("fc2.weight") = t.at("fc2.weight").to_dtype(DType::f64); });
  EXPECT_NE(msg.find(path.string() +
                     ": tensor 'fc2.weight' is [128,256] float64 but the model expects [128,256] float32"),
            std::string::npos)
      << msg;
}

TEST(CheckpointFaults, TensorOfTheWrongShapeIsRefused) {
  TempDir dir;
  std::string msg = load_error_after_edit<ShapeError>(dir / "mlp.safetensors",
                                                      [](NamedTensors& t) { t.at("fc2.bias") = Tensor::zeros(Shape{129}); });
  EXPECT_NE(msg.find("tensor 'fc2.bias' is [129] float32 but the model expects [128] float32"), std::string::npos)
      << msg;
}

TEST(CheckpointFaults, MissingTensorIsNamed) {
  TempDir dir;
  std::filesystem::path path = dir / "mlp.safetensors";
  std::string msg = load_error_after_edit<ValueError>(path, [](NamedTensors& t) { t.erase("fc1.bias"); });
  EXPECT_NE(msg.find(path.string() + ": checkpoint has no tensor 'fc1.bias'"), std::string::npos) << msg;
}

}  // namespace
}  // namespace dagrad
