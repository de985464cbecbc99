#include "frontend/data/loader.h"

#include <algorithm>
#include <numeric>
#include <utility>

#include "runtime/error.h"
#include "runtime/rng.h"

namespace dagrad {

namespace {

constexpr size_t kQueueDepth = 2;  // batches gathered ahead of the caller
constexpr int kEpochShift = 34;    // Philox index bits of one epoch: 2 draws per swap, n < 2^33

// Epoch e's permutation of 0..n-1 (see loader.h for the exact recipe).
std::vector<int64_t> shuffled(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), int64_t{0});
  uint64_t base = static_cast<uint64_t>(epoch) << kEpochShift;
  uint64_t k = 0;
  for (int64_t i = n - 1; i > 0; --i, ++k) {
    uint64_t u = (uint64_t{random_bits(seed, base + 2 * k)} << 32) | random_bits(seed, base + 2 * k + 1);
    // Multiply-shift maps u to [0, i]; its bias, below (i+1)/2^64, is immaterial.
    auto j = static_cast<int64_t>((static_cast<unsigned __int128>(u) * static_cast<uint64_t>(i + 1)) >> 64);
    std::swap(order[i], order[j]);
  }
  return order;
}

}  // namespace

DataLoader::DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle, uint64_t seed,
                       bool drop_last, bool prefetch)
    : dataset_(std::move(dataset)),
      batch_size_(batch_size),
      shuffle_(shuffle),
      drop_last_(drop_last),
      prefetch_(prefetch),
      seed_(seed) {
  if (!dataset_) throw ValueError("DataLoader: no data set given");
  if (batch_size < 1) throw ValueError(str_cat("DataLoader: batch_size must be >= 1, got ", batch_size));
  if (dataset_->size() >= (int64_t{1} << (kEpochShift - 1)))
    throw ValueError(str_cat("DataLoader: ", dataset_->size(), " samples are more than the shuffle supports (2^33)"));
}

DataLoader::~DataLoader() { stop_prefetch(); }

void DataLoader::shard(int64_t rank, int64_t world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw ValueError(str_cat("DataLoader::shard: need 0 <= rank < world, got rank ", rank, " of world ", world));
  rank_ = rank;
  world_ = world;
}

int64_t DataLoader::num_samples() const {
  int64_t n = dataset_->size();
  if (world_ == 1) return n;
  const int64_t global = world_ * batch_size_;
  return n / global * batch_size_ + n % global / world_;
}

int64_t DataLoader::num_batches() const {
  int64_t n = num_samples();
  return drop_last_ ? n / batch_size_ : (n + batch_size_ - 1) / batch_size_;
}

std::vector<int64_t> DataLoader::epoch_order(int64_t epoch) const {
  if (epoch < 0 || epoch >= (int64_t{1} << (64 - kEpochShift)))
    throw ValueError(str_cat("DataLoader: epoch ", epoch, " out of range [0, 2^30)"));
  int64_t n = dataset_->size();
  std::vector<int64_t> all;
  if (shuffle_) {
    all = shuffled(n, seed_, epoch);
  } else {
    all.resize(static_cast<size_t>(n));
    std::iota(all.begin(), all.end(), int64_t{0});
  }
  if (world_ == 1) return all;
  // Rank r's slice of each global batch (see loader.h); the last one is split evenly.
  std::vector<int64_t> mine;
  mine.reserve(static_cast<size_t>(num_samples()));
  const int64_t global = world_ * batch_size_;
  for (int64_t start = 0; start < n; start += global) {
    int64_t slice = std::min(global, n - start) / world_;
    for (int64_t p = start + rank_ * slice, end = p + slice; p < end; ++p) mine.push_back(all[p]);
  }
  return mine;
}

void DataLoader::start_epoch(int64_t epoch) {
  stop_prefetch();
  order_ = epoch_order(epoch);
  epoch_batches_ = num_batches();
  consumed_ = 0;
  started_ = true;
  ready_.clear();
  stop_ = false;
  producer_done_ = false;
  error_ = nullptr;
  if (prefetch_ && epoch_batches_ > 0) worker_ = std::thread([this] { prefetch_loop(); });
}

Batch DataLoader::make_batch(int64_t b) const {
  int64_t begin = b * batch_size_;
  int64_t end = std::min(begin + batch_size_, static_cast<int64_t>(order_.size()));
  Batch batch = dataset_->gather(std::span<const int64_t>(order_.data() + begin, order_.data() + end));
  batch.index = b;
  return batch;
}

void DataLoader::prefetch_loop() {
  try {
    for (int64_t b = 0; b < epoch_batches_; ++b) {
      {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [&] { return stop_ || ready_.size() < kQueueDepth; });
        if (stop_) return;
      }
      Batch batch = make_batch(b);
      std::lock_guard lock(mutex_);
      ready_.push_back(std::move(batch));
      changed_.notify_all();
    }
  } catch (...) {
    std::lock_guard lock(mutex_);
    error_ = std::current_exception();
  }
  std::lock_guard lock(mutex_);
  producer_done_ = true;
  changed_.notify_all();
}

void DataLoader::stop_prefetch() {
  if (!worker_.joinable()) return;
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  changed_.notify_all();
  worker_.join();
}

std::optional<Batch> DataLoader::next() {
  if (!started_) throw ValueError("DataLoader: call start_epoch(e), or iterate over epoch(e), before next()");
  if (consumed_ >= epoch_batches_) return std::nullopt;
  if (!prefetch_) {
    try {
      return make_batch(consumed_++);
    } catch (...) {
      consumed_ = epoch_batches_;  // as with prefetch: a failed batch ends the epoch
      throw;
    }
  }

  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !ready_.empty() || producer_done_; });
  if (ready_.empty()) {
    // The thread stopped early: it failed on batch consumed_. The epoch ends here.
    consumed_ = epoch_batches_;
    if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
    throw InternalError("DataLoader: prefetch thread ended before the epoch did");
  }
  Batch batch = std::move(ready_.front());
  ready_.pop_front();
  ++consumed_;
  changed_.notify_all();
  return batch;
}

DataLoader::EpochRange DataLoader::epoch(int64_t e) { return EpochRange(this, e); }

}  // namespace dagrad
