#include "frontend/trainer.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ostream>

#include "autograd/grad.h"
#include "frontend/checkpoint/safetensors.h"
#include "frontend/data/loader.h"
#include "frontend/data_parallel.h"
#include "frontend/progress.h"
#include "ops/math_mode.h"
#include "ops/ops.h"
#include "runtime/backend.h"
#include "runtime/error.h"
#include "scheduler/commute_max.h"
#include "scheduler/fuse_conv_pool.h"
#include "scheduler/mixed_precision.h"
#include "scheduler/numerics.h"
#include "scheduler/session.h"
#include "scheduler/sum_before_scatter.h"

namespace dagrad {

namespace {

constexpr const char* kLrInput = "lr";  // the training step's learning-rate input

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

// A scalar output (a loss) on the host, whatever its floating dtype.
double scalar_of(const Tensor& t) {
  const Tensor host = t.to(Device::cpu());
  return dispatch_floating(host.dtype(), "loss", [&]<class T>() { return static_cast<double>(host.data<T>()[0]); });
}

// The batch size: the targets' leading dimension.
int64_t samples_in(const Batch& b) { return b.target.shape().rank() ? b.target.shape()[0] : 1; }

// Adds one batch's value of a metric (on the host) to its total over the data set:
// integers exactly in int64, floating values in float64.
void accumulate(TensorMap& totals, const std::string& name, const Tensor& batch) {
  const DType dtype = is_float(batch.dtype()) ? DType::f64 : DType::i64;
  auto it = totals.find(name);
  if (it == totals.end()) {
    totals.emplace(name, batch.to_dtype(dtype).clone());
    return;
  }
  Tensor& total = it->second;
  if (total.shape() != batch.shape())
    throw ValueError(str_cat("metric '", name, "' has shape ", batch.shape().to_string(), " in one batch but ",
                             total.shape().to_string(), " in another; a metric's shape must not depend on the batch"));
  const Tensor add = batch.to_dtype(dtype);
  auto add_to_total = [&]<class T>() {
    for (int64_t i = 0; i < total.numel(); ++i) total.data<T>()[i] += add.data<T>()[i];
  };
  if (dtype == DType::f64) add_to_total.template operator()<double>();
  else add_to_total.template operator()<int64_t>();
}

// "test accuracy 96.00% (1920/2000)", "test mean abs error 0.0123": one score for the log.
std::string score_text(const Score& sc, int64_t samples) {
  std::string name = sc.name;
  std::replace(name.begin(), name.end(), '_', ' ');
  char text[160];
  if (sc.fraction)
    std::snprintf(text, sizeof text, "test %s %.2f%% (%lld/%lld)", name.c_str(), 100 * sc.value,
                  static_cast<long long>(std::llround(sc.value * static_cast<double>(samples))),
                  static_cast<long long>(samples));
  else
    std::snprintf(text, sizeof text, "test %s %.4g", name.c_str(), sc.value);
  return text;
}

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
  SampleNames names() const override { return base_.names(); }

 private:
  const Dataset& base_;
  int64_t begin_, end_;
};

}  // namespace

Trainer::Trainer(std::shared_ptr<nn::Module> model, TrainConfig cfg, std::ostream& log)
    : model_(std::move(model)), cfg_(std::move(cfg)), log_(log) {
  if (!cfg_.objective) throw ValueError("TrainConfig::objective is not set (e.g. classification() or regression())");
  use_names(cfg_.names);
  if (cfg_.batch_size <= 0) throw ValueError(str_cat("batch size must be positive, got ", cfg_.batch_size));
  if (cfg_.epochs < 0) throw ValueError(str_cat("epochs must be >= 0, got ", cfg_.epochs));
  if (!(cfg_.bucket_mb > 0)) throw ValueError(str_cat("gradient bucket size must be positive, got ", cfg_.bucket_mb, " MiB"));
  set_tf32_allowed(cfg_.tf32);
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

  // A bound tensor becomes the graph input of its name, shape and dtype.
  auto input = [](Graph& g, const TensorMap& in, const std::string& name) {
    const Tensor& t = in.at(name);
    return g.input(name, t.shape(), t.dtype());
  };
  // The training step: forward, loss, backward, one update node per parameter.
  auto build_train = [this, input](Graph& g, const TensorMap& in) -> std::vector<Value> {
    Value x = input(g, in, names_.input);
    Value y = input(g, in, names_.target);
    Value lr = g.input(kLrInput, Shape{});
    model_->train(true);
    Value output = (*model_)(x);
    if (cfg_.compile.commute_max) scheduler::commute_max(g);
    Value loss = cfg_.objective->loss(output, y);
    std::vector<Value> outs{loss};
    for (const Value& v : cfg_.objective->step_metrics(output, y)) outs.push_back(v);
    if (comm::world().world_size() > 1) offset_random_ops_for_rank(g, comm::world().rank());
    std::vector<Value> params = g.parameters();
    std::vector<Value> grads = autograd::grad(g, loss, params);
    if (cfg_.compile.sum_before_scatter) scheduler::sum_before_scatter(g);
    // Before the updates: the weights' 16-bit copies must be read before they are overwritten.
    if (cfg_.compile.precision != DType::f32) scheduler::apply_mixed_precision(g, cfg_.compile.precision);
    if (cfg_.compile.fuse_conv_pool) {
      std::vector<Value> needed = outs;
      needed.insert(needed.end(), grads.begin(), grads.end());
      scheduler::fuse_conv_pool(g, needed);
    }
    if (comm::world().world_size() > 1 || cfg_.allreduce_in_one_process)
      grads = allreduce_gradients(grads, static_cast<int64_t>(cfg_.bucket_mb * (1 << 20)), comm::world());
    optimizer_->add_updates(g, params, grads, lr);
    return outs;
  };
  // Evaluation: forward only, no dropout, running statistics for batch norm; with
  // targets also the loss and the objective's metrics.
  auto build_eval = [this, input](Graph& g, const TensorMap& in) -> std::vector<Value> {
    Value x = input(g, in, names_.input);
    model_->train(false);
    Value output = (*model_)(x);
    model_->train(true);
    // relu after max pooling, so that the pooling fuses into the convolution before it.
    if (cfg_.compile.commute_max && cfg_.compile.fuse_conv_pool) scheduler::commute_max(g);
    if (cfg_.compile.precision != DType::f32) scheduler::apply_mixed_precision(g, cfg_.compile.precision);
    if (cfg_.compile.fuse_conv_pool) scheduler::fuse_conv_pool(g, std::span<const Value>(&output, 1));
    if (!in.count(names_.target)) return {output};
    Value y = input(g, in, names_.target);
    std::vector<Value> outs{output, cfg_.objective->loss(output, y)};
    metric_names_.clear();
    for (Metric& m : cfg_.objective->metrics(output, y)) {
      metric_names_.push_back(std::move(m.name));
      outs.push_back(m.batch_total);
    }
    return outs;
  };
  if (cfg_.check_numerics) cfg_.compile.fuse = false;
  Backend& backend = backend_for(cfg_.device);  // throws the one-line reason without a GPU
  train_session_ = std::make_unique<scheduler::Session>(build_train, cfg_.compile, backend);
  eval_session_ = std::make_unique<scheduler::Session>(build_eval, cfg_.compile, backend);
  train_session_->set_log(&log_);
  eval_session_->set_log(&log_);
  train_session_->set_check_numerics(cfg_.check_numerics);
  eval_session_->set_check_numerics(cfg_.check_numerics);
  train_session_->bind(state_);
  eval_session_->bind(state_);
}

Trainer::~Trainer() = default;

void Trainer::use_names(const SampleNames& names) {
  if (names.input.empty() || names.target.empty() || names.input == names.target || names.input == kLrInput ||
      names.target == kLrInput)
    throw ValueError(str_cat("the data set's inputs are named '", names.input, "' and '", names.target,
                             "'; they must be two different, non-empty names other than '", kLrInput, "'"));
  names_ = names;
}

double Trainer::train_epoch(const Dataset& train, int epoch) {
  use_names(train.names());
  DataLoader loader(std::shared_ptr<const Dataset>(&train, [](const Dataset*) {}), cfg_.batch_size,
                    /*shuffle=*/true, cfg_.seed);
  comm::Communicator& world = comm::world();
  loader.shard(world.rank(), world.world_size());
  int64_t batches = loader.num_batches();
  if (cfg_.max_steps_per_epoch >= 0) batches = std::min(batches, cfg_.max_steps_per_epoch);
  const optim::LrSchedule schedule = cfg_.schedule.for_run(batches, cfg_.epochs);
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
    TensorMap in = inputs_of(b);
    in[kLrInput] = scalar_f32(schedule.at(static_cast<int64_t>(global_step_)));
    train_session_->run(in, out);
    float loss = static_cast<float>(scalar_of(out[0]));
    if (world.world_size() > 1) {  // the global batch's mean: every rank's batch is as large
      world.allreduce_sum(&loss, 1, DType::f32);
      loss /= static_cast<float>(world.world_size());
    }
    if (!std::isfinite(loss))
      throw DivergedError(str_cat("training diverged: the loss is ", loss, " at step ", global_step_, " (epoch ",
                                  epoch + 1, ", batch ", b.index + 1, "); try a lower --lr. Checkpoints already on "
                                  "disk were not touched."));
    step_losses_.push_back(loss);
    int64_t n = samples_in(b) * world.world_size();
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
  use_names(data.names());
  // Data parallel: each rank evaluates a contiguous share of the samples, and the sums
  // are added up across ranks, so every rank returns the whole data set's result.
  comm::Communicator& world = comm::world();
  const int64_t n_all = data.size(), ranks = world.world_size();
  SliceDataset share(data, n_all * world.rank() / ranks, n_all * (world.rank() + 1) / ranks);
  DataLoader loader(std::shared_ptr<const Dataset>(&share, [](const Dataset*) {}), cfg_.eval_batch_size,
                    /*shuffle=*/false, cfg_.seed);
  EvalResult r;
  double loss_sum = 0;
  for (const Batch& b : loader.epoch(0)) {
    std::vector<Tensor> out = eval_session_->run(inputs_of(b));
    const int64_t n = samples_in(b);
    loss_sum += scalar_of(out[1]) * static_cast<double>(n);
    r.samples += n;
    for (size_t k = 0; k < metric_names_.size(); ++k)
      accumulate(r.totals, metric_names_[k], out[2 + k].to(Device::cpu()));
  }
  if (ranks > 1) {
    // A rank whose share is empty learns the metrics' shapes from one sample, counted
    // nowhere, so that every rank takes part in the same all-reduces.
    if (r.samples == 0 && n_all > 0) {
      std::vector<Tensor> out = eval_session_->run(inputs_of(data.gather(std::vector<int64_t>{0})));
      for (size_t k = 0; k < metric_names_.size(); ++k) {
        const DType dtype = is_float(out[2 + k].dtype()) ? DType::f64 : DType::i64;
        r.totals[metric_names_[k]] = Tensor::zeros(out[2 + k].shape(), dtype);
      }
    }
    double sums[2] = {loss_sum, static_cast<double>(r.samples)};
    world.allreduce_sum(sums, 2, DType::f64);
    loss_sum = sums[0];
    r.samples = std::llround(sums[1]);
    if (n_all > 0)
      for (const std::string& name : metric_names_) {
        Tensor& total = r.totals.at(name);
        world.allreduce_sum(total.raw_data(), total.numel(), total.dtype());
      }
  }
  if (r.samples) {
    r.loss = loss_sum / static_cast<double>(r.samples);
    r.scores = cfg_.objective->scores(r.totals, r.samples);
  }
  return r;
}

Tensor Trainer::predict(const Tensor& input) {
  return eval_session_->run({{names_.input, input}})[0].to(Device::cpu());
}

std::vector<EpochMetrics> Trainer::fit(const Dataset& train, const Dataset& test,
                                       const std::function<void(const EpochMetrics&)>& after_epoch) {
  std::vector<EpochMetrics> rows;
  for (int e = epochs_done_; e < cfg_.epochs; ++e) {
    auto t0 = std::chrono::steady_clock::now();
    int64_t steps_before = static_cast<int64_t>(global_step_);
    const size_t losses_before = step_losses_.size();
    EpochMetrics m;
    m.epoch = e + 1;
    m.train_loss = train_epoch(train, e);
    m.step_losses.assign(step_losses_.begin() + static_cast<std::ptrdiff_t>(losses_before), step_losses_.end());
    m.first_step = steps_before + 1;
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
    m.test_scores = ev.scores;
    char head[120], tail[80];
    std::snprintf(head, sizeof head, "epoch %d/%d: train loss %.4f, test loss %.4f", m.epoch, cfg_.epochs,
                  m.train_loss, m.test_loss);
    std::snprintf(tail, sizeof tail, ", %.1f s, %.0f images/s\n", m.seconds, m.images_per_second);
    std::string line = head;
    for (const Score& sc : ev.scores) line += ", " + score_text(sc, ev.samples);
    if (comm::world().rank() == 0) log_ << line << tail << std::flush;
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
