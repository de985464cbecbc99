// Batches from a Dataset, epoch by epoch, with seeded shuffling and a prefetch thread.
//
//   DataLoader train(MnistDataset::load("data/mnist"), 64, /*shuffle=*/true, /*seed=*/1);
//   for (int64_t e = 0; e < epochs; ++e)
//     for (const Batch& b : train.epoch(e)) step(b.input, b.target);
//
// It works on any Dataset and knows no file format.
//
// Order. Epoch e visits the samples in a permutation that depends only on (seed, e):
// Fisher-Yates from the back, where the swap partner of position i (i = n-1 .. 1, the
// k-th swap) is j = floor(u * (i+1) / 2^64) and u is the 64-bit number made of the Philox
// draws random_bits(seed, e * 2^34 + 2k) (high half) and (e * 2^34 + 2k + 1) (low half)
// of runtime/rng.h. So the order is the same on every machine, thread count and run, and
// each epoch's order differs. Without shuffling every epoch is 0, 1, ..., n-1.
//
// Sharding (for data-parallel training). shard(rank, world) cuts each epoch's order into
// global batches of world * batch_size samples and keeps the rank-th contiguous slice of
// batch_size samples of each: batch i of rank r is samples [i*W*B + r*B, i*W*B + (r+1)*B)
// of the epoch, so the ranks' batches i together are exactly batch i of one process with
// batch size W*B. A last, partial global batch of M samples is split the same way into
// slices of M / W (the M % W left over are not visited that epoch; none is visited when
// M < W), so every rank has as many batches, all of one size, as the others.
//
// Prefetch. With prefetch on, a background thread gathers the next batches (at most 2
// ready and waiting) while the caller trains on the current one. The batches are exactly
// those made without prefetch. An exception thrown while gathering reaches the caller
// from next() in the batch's place; destroying the loader or starting another epoch
// mid-epoch stops the thread promptly.
#pragma once
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "frontend/data/dataset.h"

namespace dagrad {

class DataLoader {
 public:
  class EpochRange;

  DataLoader(std::shared_ptr<const Dataset> dataset, int64_t batch_size, bool shuffle, uint64_t seed,
             bool drop_last = false, bool prefetch = true);
  // Keeps a copy of the data set (cheap when, like MnistDataset, its tensors share
  // their storage).
  template <std::derived_from<Dataset> D>
  DataLoader(const D& dataset, int64_t batch_size, bool shuffle, uint64_t seed, bool drop_last = false,
             bool prefetch = true)
      : DataLoader(std::make_shared<const D>(dataset), batch_size, shuffle, seed, drop_last, prefetch) {}
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Applies from the next epoch started. 0 <= rank < world.
  void shard(int64_t rank, int64_t world);

  int64_t batch_size() const { return batch_size_; }
  int64_t num_samples() const;  // per epoch, this shard only
  int64_t num_batches() const;  // per epoch, counting a last partial batch unless drop_last
  // The sample indices epoch e visits, in order (this shard only, before batching).
  std::vector<int64_t> epoch_order(int64_t epoch) const;

  // Starts epoch e, abandoning any epoch in progress.
  void start_epoch(int64_t epoch);
  // The next batch of the current epoch, or nullopt once it is exhausted.
  std::optional<Batch> next();
  // Range over epoch e's batches; begin() starts the epoch.
  EpochRange epoch(int64_t e);

 private:
  void stop_prefetch();
  void prefetch_loop();
  Batch make_batch(int64_t b) const;

  std::shared_ptr<const Dataset> dataset_;
  int64_t batch_size_;
  bool shuffle_, drop_last_, prefetch_;
  uint64_t seed_;
  int64_t rank_ = 0, world_ = 1;

  // The current epoch; order_ and num_batches_ are fixed while the thread runs.
  bool started_ = false;
  std::vector<int64_t> order_;
  int64_t epoch_batches_ = 0;
  int64_t consumed_ = 0;  // batches handed to the caller

  std::thread worker_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<Batch> ready_;
  bool stop_ = false;
  bool producer_done_ = false;
  std::exception_ptr error_;
};

class DataLoader::EpochRange {
 public:
  class Iterator {
   public:
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    explicit Iterator(DataLoader* loader) : loader_(loader), current_(loader->next()) {}
    const Batch& operator*() const { return *current_; }
    const Batch* operator->() const { return &*current_; }
    Iterator& operator++() {
      current_ = loader_->next();
      return *this;
    }
    bool operator==(std::default_sentinel_t) const { return !current_; }

   private:
    DataLoader* loader_;
    std::optional<Batch> current_;
  };

  EpochRange(DataLoader* loader, int64_t epoch) : loader_(loader), epoch_(epoch) {}
  Iterator begin() {
    loader_->start_epoch(epoch_);
    return Iterator(loader_);
  }
  std::default_sentinel_t end() const { return {}; }

 private:
  DataLoader* loader_;
  int64_t epoch_;
};

}  // namespace dagrad
