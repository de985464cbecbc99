#include "frontend/trainer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "autograd/grad.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/data_parallel.h"
#include "frontend/data/loader.h"
#include "frontend/progress.h"
#include "ops/ops.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "scheduler/mixed_precision.h"
#include "scheduler/numerics.h"
#include "scheduler/session.h"

namespace dagrad {

namespace {

constexpr int kNumClasses = 10;

Tensor scalar_f32(double v) { return Tensor::full(Shape{}, v, DType::f32); }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The first tensor of `state` holding NaN or Inf, or null. Names are visited in order so
// that the one reported does not depend on the hash map's layout.
const std::string* first_non_finite_tensor(const TensorMap& state) {
  std::vector<const std::string*> names;
  for (const auto& [name, t] : state) names.push_back(&name);
  std::sort(names.begin(), names.end(), [](const std::string* a, const std::string* b) { return *a < *b; });
  for (const std::string* name : names)
    if (scheduler::first_non_finite(state.at(*name)) >= 0) return name;
  return nullptr;
}

// Inputs are bound by these node names in every graph the trainer builds.
TensorMap batch_inputs(const Batch& b) { return {{"images", b.images}, {"labels", b.labels}}; }

// Samples [begin, end) of another data set: one rank's share of an evaluation.
class SliceDataset final : public Dataset {
 public:
  SliceDataset(const Dataset& base, int64_t begin, int64_t end) : base_(base), begin_(begin), end_(end) {}
  int64_t size() const override { return end_ - begin_; }
  Batch gather(std::span<const int64_t> indices) const override {
    std::vector<int64_t> shifted(indices.begin(), indices.end());
    for (int64_t& i : shifted) i += begin_;
    return base_.gather(shifted);
  }

 private:
  const Dataset& base_;
  int64_t begin_, end_;
};

}  // namespace

Trainer::Trainer(std::shared_ptr<nn::Module> model, TrainConfig cfg, std::ostream& log)
    : model_(std::move(model)), cfg_(std::move(cfg)), log_(log) {
  if (cfg_.batch_size <= 0) throw ValueError(str_cat("batch size must be positive, got ", cfg_.batch_size));
  if (cfg_.epochs < 0) throw ValueError(str_cat("epochs must be >= 0, got ", cfg_.epochs));
  if (!(cfg_.bucket_mb > 0)) throw ValueError(str_cat("gradient bucket size must be positive, got ", cfg_.bucket_mb, " MiB"));
  optimizer_ = optim::make_optimizer(cfg_.optimizer, cfg_.momentum, cfg_.weight_decay, cfg_.nesterov);
  state_ = nn::init_parameters(*model_, cfg_.seed);
  for (const nn::ParamSpec& s : optimizer_->state_specs(nn::parameter_specs(*model_))) {
    Tensor t = Tensor::zeros(s.shape, DType::f32);
    state_[s.name] = t;
  }
  broadcast_state(state_, comm::world());  // every rank starts from rank 0's parameters
  // The state lives where the steps run: the executors update it in place there.
  if (!cfg_.device.is_cpu())
    for (auto& [name, t] : state_) t = t.to(cfg_.device);

  // The training step: forward, loss, backward, one update node per parameter.
  auto build_train = [this](Graph& g, const TensorMap& in) -> std::vector<Value> {
    Value x = g.input("images", in.at("images").shape());
    Value y = g.input("labels", in.at("labels").shape(), DType::i64);
    Value lr = g.input("lr", Shape{});
    model_->train(true);
    Value log_probs = (*model_)(x);
    Value loss = nll_loss(log_probs, y);
    Value correct = accuracy(log_probs, y);
    if (comm::world().world_size() > 1) offset_random_ops_for_rank(g, comm::world().rank());
    std::vector<Value> params = g.parameters();
    std::vector<Value> grads = autograd::grad(g, loss, params);
    // Before the updates: the weights' 16-bit copies must be read before they are overwritten.
    if (cfg_.compile.precision != DType::f32) scheduler::apply_mixed_precision(g, cfg_.compile.precision);
    if (comm::world().world_size() > 1 || cfg_.allreduce_in_one_process)
      grads = allreduce_gradients(grads, static_cast<int64_t>(cfg_.bucket_mb * (1 << 20)), comm::world());
    optimizer_->add_updates(g, params, grads, lr);
    return {loss, correct};
  };
  // Evaluation: forward only, no dropout, running statistics for batch norm.
  auto build_eval = [this](Graph& g, const TensorMap& in) -> std::vector<Value> {
    Value x = g.input("images", in.at("images").shape());
    model_->train(false);
    Value log_probs = (*model_)(x);
    model_->train(true);
    if (cfg_.compile.precision != DType::f32) scheduler::apply_mixed_precision(g, cfg_.compile.precision);
    if (in.count("labels")) {
      Value y = g.input("labels", in.at("labels").shape(), DType::i64);
      return {log_probs, nll_loss(log_probs, y)};
    }
    return {log_probs};
  };
  if (cfg_.check_numerics) cfg_.compile.fuse = false;
  Backend& backend = backend_for(cfg_.device);  // throws the one-line reason without a GPU
  train_session_ = std::make_unique<scheduler::Session>(build_train, cfg_.compile, backend);
  eval_session_ = std::make_unique<scheduler::Session>(build_eval, cfg_.compile, backend);
  train_session_->set_check_numerics(cfg_.check_numerics);
  eval_session_->set_check_numerics(cfg_.check_numerics);
  train_session_->bind(state_);
  eval_session_->bind(state_);
}

Trainer::~Trainer() = default;

double Trainer::train_epoch(const Dataset& train, int epoch) {
  DataLoader loader(std::shared_ptr<const Dataset>(&train, [](const Dataset*) {}), cfg_.batch_size,
                    /*shuffle=*/true, cfg_.seed);
  comm::Communicator& world = comm::world();
  loader.shard(world.rank(), world.world_size());
  int64_t batches = loader.num_batches();
  if (cfg_.max_steps_per_epoch >= 0) batches = std::min(batches, cfg_.max_steps_per_epoch);
  Progress bar(log_, str_cat("epoch ", epoch + 1, "/", cfg_.epochs), batches, cfg_.progress && world.rank() == 0);
  double loss_sum = 0;
  int64_t images = 0, done = 0;
  train_session_->set_next_step(global_step_);
  std::vector<Tensor> out;  // reused by every step (Session::run's allocation-free form)
  for (const Batch& b : loader.epoch(epoch)) {
    if (done == batches) break;
    if (cfg_.stop_requested && cfg_.stop_requested->load())
      throw InterruptedError(str_cat("interrupted at step ", global_step_, " (epoch ", epoch + 1, ", batch ",
                                     b.index + 1, "); checkpoints already on disk are complete"));
    TensorMap in = batch_inputs(b);
    in["lr"] = scalar_f32(cfg_.schedule.at(static_cast<int64_t>(global_step_)));
    train_session_->run(in, out);
    float loss = out[0].to(Device::cpu()).data<float>()[0];
    if (world.world_size() > 1) {  // the global batch's mean: every rank's batch is as large
      world.allreduce_sum(&loss, 1, DType::f32);
      loss /= static_cast<float>(world.world_size());
    }
    if (!std::isfinite(loss))
      throw DivergedError(str_cat("training diverged: the loss is ", loss, " at step ", global_step_, " (epoch ",
                                  epoch + 1, ", batch ", b.index + 1, "); try a lower --lr. Checkpoints already on "
                                  "disk were not touched."));
    step_losses_.push_back(loss);
    int64_t n = b.labels.numel() * world.world_size();
    loss_sum += static_cast<double>(loss) * static_cast<double>(n);
    images += n;
    ++done;
    ++global_step_;
    bar.update(done, images, str_cat("loss ", loss));
  }
  bar.finish(str_cat("train loss ", images ? loss_sum / static_cast<double>(images) : 0.0));
  epochs_done_ = epoch + 1;
  return images ? loss_sum / static_cast<double>(images) : 0.0;
}

EvalResult Trainer::evaluate(const Dataset& data) {
  // Data parallel: each rank evaluates a contiguous share of the samples, and the sums
  // are added up across ranks, so every rank returns the whole data set's result.
  comm::Communicator& world = comm::world();
  const int64_t n_all = data.size(), ranks = world.world_size();
  SliceDataset share(data, n_all * world.rank() / ranks, n_all * (world.rank() + 1) / ranks);
  DataLoader loader(std::shared_ptr<const Dataset>(&share, [](const Dataset*) {}), cfg_.eval_batch_size,
                    /*shuffle=*/false, cfg_.seed);
  EvalResult r;
  r.confusion.assign(kNumClasses, std::vector<int64_t>(kNumClasses, 0));
  double loss_sum = 0;
  int64_t correct = 0;
  for (const Batch& b : loader.epoch(0)) {
    std::vector<Tensor> out = eval_session_->run(batch_inputs(b));
    const Tensor log_probs = out[0].to(Device::cpu());
    const float* lp = log_probs.data<float>();
    const int64_t* labels = b.labels.data<int64_t>();
    int64_t n = b.labels.numel(), classes = out[0].shape()[1];
    for (int64_t i = 0; i < n; ++i) {
      int64_t best = 0;
      for (int64_t c = 1; c < classes; ++c)
        if (lp[i * classes + c] > lp[i * classes + best]) best = c;
      correct += best == labels[i];
      if (labels[i] < kNumClasses && best < kNumClasses) r.confusion[labels[i]][best]++;
    }
    loss_sum += static_cast<double>(out[1].to(Device::cpu()).data<float>()[0]) * static_cast<double>(n);
    r.samples += n;
  }
  if (ranks > 1) {
    double sums[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(r.samples)};
    world.allreduce_sum(sums, 3, DType::f64);
    loss_sum = sums[0];
    correct = std::llround(sums[1]);
    r.samples = std::llround(sums[2]);
    std::vector<int64_t> counts;
    for (const auto& row : r.confusion) counts.insert(counts.end(), row.begin(), row.end());
    world.allreduce_sum(counts.data(), static_cast<int64_t>(counts.size()), DType::i64);
    for (size_t t = 0; t < r.confusion.size(); ++t)
      std::copy_n(counts.begin() + static_cast<long>(t * kNumClasses), kNumClasses, r.confusion[t].begin());
  }
  if (r.samples) {
    r.loss = loss_sum / static_cast<double>(r.samples);
    r.accuracy = static_cast<double>(correct) / static_cast<double>(r.samples);
  }
  return r;
}

Tensor Trainer::predict(const Tensor& images) {
  return eval_session_->run({{"images", images}})[0].to(Device::cpu());
}

std::vector<EpochMetrics> Trainer::fit(const Dataset& train, const Dataset& test,
                                       const std::function<void(const EpochMetrics&)>& after_epoch) {
  std::vector<EpochMetrics> rows;
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    int64_t steps_before = static_cast<int64_t>(global_step_);
    EpochMetrics m;
    m.epoch = e + 1;
    m.train_loss = train_epoch(train, e);
    m.seconds = seconds_since(t0);
    int64_t steps = static_cast<int64_t>(global_step_) - steps_before;
    int64_t images = std::min<int64_t>(steps * cfg_.batch_size * comm::world().world_size(), train.size());
    m.images_per_second = m.seconds > 0 ? static_cast<double>(images) / m.seconds : 0;
    EvalResult ev = evaluate(test);
    // A step's own loss is measured before its update, so the last update of an epoch
    // can leave the parameters non-finite unseen; the test loss and one scan of the state
    // per epoch (not per step: the step stays as fast) catch it before anything is saved.
    if (!std::isfinite(ev.loss))
      throw DivergedError(str_cat("training diverged: the test loss is ", ev.loss, " after epoch ", e + 1, " (step ",
                                  global_step_, "); try a lower --lr. Checkpoints already on disk were not touched."));
    if (const std::string* bad = first_non_finite_tensor(state_))
      throw DivergedError(str_cat("training diverged: '", *bad, "' holds NaN or Inf after epoch ", e + 1, " (step ",
                                  global_step_, "); try a lower --lr. Checkpoints already on disk were not touched."));
    m.test_loss = ev.loss;
    m.test_accuracy = ev.accuracy;
    char line[200];
    std::snprintf(line, sizeof line,
                  "epoch %d/%d: train loss %.4f, test loss %.4f, test accuracy %.2f%% (%lld/%lld), %.1f s, %.0f images/s\n",
                  m.epoch, cfg_.epochs, m.train_loss, m.test_loss, 100 * m.test_accuracy,
                  static_cast<long long>(std::llround(ev.accuracy * static_cast<double>(ev.samples))),
                  static_cast<long long>(ev.samples), m.seconds, m.images_per_second);
    if (comm::world().rank() == 0) log_ << line << std::flush;
    rows.push_back(m);
    if (after_epoch) after_epoch(m);
  }
  return rows;
}

void Trainer::save(const std::filesystem::path& path) const {
  // The last line of defence: whatever the caller does, no checkpoint of NaNs replaces a good one.
  if (const std::string* bad = first_non_finite_tensor(state_))
    throw DivergedError(str_cat(path.string(), ": not saved: '", *bad, "' holds NaN or Inf (training diverged); the "
                                "file on disk, if any, was not touched"));
  CheckpointMetadata meta{{"format", "dagrad"},
                          {"model", cfg_.model_name},
                          {"epoch", std::to_string(epochs_done_)},
                          {"step", std::to_string(global_step_)},
                          {"seed", std::to_string(cfg_.seed)},
                          {"optimizer", cfg_.optimizer}};
  if (cfg_.device.is_cpu()) return save_safetensors(path, state_, meta);
  TensorMap host;
  for (const auto& [name, t] : state_) host[name] = t.to(Device::cpu());
  save_safetensors(path, host, meta);
}

CheckpointMetadata Trainer::load_checkpoint(const std::filesystem::path& path, bool with_optimizer_state) {
  Checkpoint ck = load_safetensors(path);
  auto model = ck.metadata.find("model");
  if (model != ck.metadata.end() && model->second != cfg_.model_name)
    throw ValueError(str_cat(path.string(), ": checkpoint is of model '", model->second, "' but the model is '",
                             cfg_.model_name, "'"));
  std::vector<nn::ParamSpec> wanted = nn::parameter_specs(*model_);
  if (with_optimizer_state)
    for (auto& s : optimizer_->state_specs(nn::parameter_specs(*model_))) wanted.push_back(std::move(s));
  for (const nn::ParamSpec& s : wanted) {
    auto it = ck.tensors.find(s.name);
    if (it == ck.tensors.end())
      throw ValueError(str_cat(path.string(), ": checkpoint has no tensor '", s.name, "'",
                               with_optimizer_state ? " (was it saved with another optimizer?)" : ""));
    if (it->second.shape() != s.shape || it->second.dtype() != DType::f32)
      throw ShapeError(str_cat(path.string(), ": tensor '", s.name, "' is ", it->second.shape().to_string(), " ",
                               dtype_name(it->second.dtype()), " but the model expects ", s.shape.to_string(),
                               " float32"));
    // Copy into the bound tensors: the compiled sessions keep pointing at them.
    state_.at(s.name).copy_from(it->second);
  }
  return ck.metadata;
}

void Trainer::resume(const std::filesystem::path& path) {
  CheckpointMetadata meta = load_checkpoint(path, /*with_optimizer_state=*/true);
  auto get = [&](const char* key) -> int64_t {
    auto it = meta.find(key);
    if (it == meta.end()) throw ValueError(str_cat(path.string(), ": checkpoint metadata lacks '", key, "'"));
    int64_t v = 0;
    auto [end, err] = std::from_chars(it->second.data(), it->second.data() + it->second.size(), v);
    if (err != std::errc() || end != it->second.data() + it->second.size() || v < 0)
      throw ValueError(str_cat(path.string(), ": checkpoint metadata '", key, "' is '", it->second,
                               "', not a count"));
    return v;
  };
  epochs_done_ = static_cast<int>(get("epoch"));
  global_step_ = static_cast<uint64_t>(get("step"));
}

void Trainer::load_parameters(const std::filesystem::path& path) { load_checkpoint(path, false); }

std::string checkpoint_model_name(const std::filesystem::path& path) {
  CheckpointMetadata meta = load_safetensors(path).metadata;
  auto model = meta.find("model");
  if (model == meta.end() || model->second.empty())
    throw ValueError(str_cat(path.string(), ": the checkpoint does not name its model (no 'model' in its metadata); "
                             "pass --model"));
  return model->second;
}

}  // namespace dagrad
