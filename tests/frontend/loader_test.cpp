#include "frontend/data/loader.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <thread>

#include "frontend/data/mnist.h"
#include "runtime/rng.h"
#include "test_files.h"

namespace dagrad {
namespace {

using testing::expect_error;

// Sample i is the number i: its label is i and its one pixel is i. Optionally fails on
// one sample, and can be slow, to exercise the prefetch thread.
class IndexDataset : public Dataset {
 public:
  explicit IndexDataset(int64_t n, int64_t fail_at = -1, int sleep_ms = 0)
      : n_(n), fail_at_(fail_at), sleep_ms_(sleep_ms) {}
  int64_t size() const override { return n_; }
  Batch gather(std::span<const int64_t> indices) const override {
    if (sleep_ms_) std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    auto b = static_cast<int64_t>(indices.size());
    Batch batch{Tensor::empty(Shape{b, 1, 1, 1}, DType::f32), Tensor::empty(Shape{b}, DType::i64)};
    for (int64_t i = 0; i < b; ++i) {
      if (indices[i] == fail_at_) throw IoError("sample " + std::to_string(fail_at_) + " is unreadable");
      batch.input.data<float>()[i] = static_cast<float>(indices[i]);
      batch.target.data<int64_t>()[i] = indices[i];
    }
    ++calls;
    return batch;
  }
  SampleNames names() const override { return {"number", "label"}; }
  mutable std::atomic<int> calls{0};

 private:
  int64_t n_, fail_at_;
  int sleep_ms_;
};

// Sample indices of one epoch, batch by batch.
std::vector<std::vector<int64_t>> run_epoch(DataLoader& loader, int64_t epoch) {
  std::vector<std::vector<int64_t>> batches;
  for (const Batch& b : loader.epoch(epoch)) {
    EXPECT_EQ(b.index, static_cast<int64_t>(batches.size()));
    batches.push_back(b.target.to_vector<int64_t>());
  }
  return batches;
}

std::vector<int64_t> flatten(const std::vector<std::vector<int64_t>>& batches) {
  std::vector<int64_t> all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  return all;
}

std::vector<int64_t> iota(int64_t n) {
  std::vector<int64_t> v(static_cast<size_t>(n));
  std::iota(v.begin(), v.end(), int64_t{0});
  return v;
}

TEST(DataLoader, EachEpochCoversTheDataSetOnce) {
  for (bool prefetch : {false, true}) {
    DataLoader loader(std::make_shared<IndexDataset>(103), 10, /*shuffle=*/true, /*seed=*/7, false, prefetch);
    EXPECT_EQ(loader.num_batches(), 11);
    for (int64_t e = 0; e < 3; ++e) {
      auto batches = run_epoch(loader, e);
      ASSERT_EQ(batches.size(), 11u);
      for (size_t i = 0; i < 10; ++i) EXPECT_EQ(batches[i].size(), 10u);
      EXPECT_EQ(batches[10].size(), 3u);  // the partial last batch
      std::vector<int64_t> all = flatten(batches);
      EXPECT_EQ(all, loader.epoch_order(e));
      std::sort(all.begin(), all.end());
      EXPECT_EQ(all, iota(103));
    }
  }
}

TEST(DataLoader, DropLastDropsThePartialBatch) {
  DataLoader loader(std::make_shared<IndexDataset>(103), 10, true, 7, /*drop_last=*/true);
  EXPECT_EQ(loader.num_batches(), 10);
  auto batches = run_epoch(loader, 0);
  ASSERT_EQ(batches.size(), 10u);
  for (const auto& b : batches) EXPECT_EQ(b.size(), 10u);
  // The dropped samples are the last three of the epoch's order.
  std::vector<int64_t> order = loader.epoch_order(0);
  EXPECT_EQ(flatten(batches), std::vector<int64_t>(order.begin(), order.begin() + 100));
  // An exact multiple keeps every batch either way.
  DataLoader exact(std::make_shared<IndexDataset>(100), 10, true, 7, true);
  EXPECT_EQ(exact.num_batches(), 10);
}

TEST(DataLoader, SameSeedSameOrderOtherEpochsAndSeedsDiffer) {
  auto data = std::make_shared<IndexDataset>(500);
  DataLoader a(data, 32, true, 42), b(data, 32, true, 42), c(data, 32, true, 43);
  auto a0 = flatten(run_epoch(a, 0)), a1 = flatten(run_epoch(a, 1));
  EXPECT_EQ(a0, flatten(run_epoch(b, 0)));
  EXPECT_EQ(a1, flatten(run_epoch(b, 1)));
  EXPECT_NE(a0, a1);
  EXPECT_NE(a0, flatten(run_epoch(c, 0)));
  EXPECT_NE(a0, iota(500));
  // Replaying an epoch gives its order again.
  EXPECT_EQ(flatten(run_epoch(a, 0)), a0);
}

// The documented recipe (loader.h), written out independently.
TEST(DataLoader, ShuffleFollowsTheDocumentedRecipe) {
  const int64_t n = 37;
  const uint64_t seed = 0x1234567890abcdefull;
  for (int64_t e : {0, 1, 5}) {
    std::vector<int64_t> order = iota(n);
    uint64_t k = 0;
    for (int64_t i = n - 1; i > 0; --i, ++k) {
      uint64_t idx = (static_cast<uint64_t>(e) << 34) + 2 * k;
      uint64_t u = (uint64_t{random_bits(seed, idx)} << 32) | random_bits(seed, idx + 1);
      auto j = static_cast<int64_t>((static_cast<unsigned __int128>(u) * (i + 1)) >> 64);
      std::swap(order[i], order[j]);
    }
    DataLoader loader(std::make_shared<IndexDataset>(n), 4, true, seed);
    EXPECT_EQ(loader.epoch_order(e), order) << "epoch " << e;
  }
}

TEST(DataLoader, WithoutShuffleTheOrderIsNatural) {
  DataLoader loader(std::make_shared<IndexDataset>(25), 8, /*shuffle=*/false, 1);
  EXPECT_EQ(flatten(run_epoch(loader, 0)), iota(25));
  EXPECT_EQ(flatten(run_epoch(loader, 3)), iota(25));
}

// Batch i of the ranks, in rank order, is batch i of one process with W times the batch:
// what makes data-parallel training equal single-process training.
TEST(DataLoader, ShardsSliceEveryGlobalBatchContiguously) {
  const int64_t n = 101, world = 3, batch = 8;  // 4 global batches of 24, then 5: slices of 1
  std::vector<std::vector<int64_t>> global;
  DataLoader one(std::make_shared<IndexDataset>(n), world * batch, true, 9);
  for (const Batch& b : one.epoch(2))
    global.push_back(std::vector<int64_t>(b.target.data<int64_t>(), b.target.data<int64_t>() + b.target.numel()));
  ASSERT_EQ(global.size(), 5u);
  std::vector<std::vector<std::vector<int64_t>>> per_rank;
  for (int64_t rank = 0; rank < world; ++rank) {
    DataLoader loader(std::make_shared<IndexDataset>(n), batch, true, 9);
    loader.shard(rank, world);
    EXPECT_EQ(loader.num_samples(), 4 * batch + 1);
    EXPECT_EQ(loader.num_batches(), 5);
    per_rank.push_back(run_epoch(loader, 2));
    ASSERT_EQ(per_rank.back().size(), 5u);
  }
  std::vector<int64_t> seen;
  for (size_t i = 0; i < 4; ++i) {
    std::vector<int64_t> joined;
    for (auto& r : per_rank) {
      EXPECT_EQ(static_cast<int64_t>(r[i].size()), batch);
      joined.insert(joined.end(), r[i].begin(), r[i].end());
    }
    EXPECT_EQ(joined, global[i]) << "global batch " << i;
    seen.insert(seen.end(), joined.begin(), joined.end());
  }
  // The last global batch (5 samples) gives each rank one: its first three, in order.
  for (int64_t r = 0; r < world; ++r) EXPECT_EQ(per_rank[r][4], std::vector<int64_t>{global[4][r]});
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a sample went to two ranks";
  DataLoader loader(std::make_shared<IndexDataset>(n), 8, true, 9);
  expect_error<ValueError>([&] { loader.shard(3, 3); }, {"need 0 <= rank < world, got rank 3 of world 3"});
  expect_error<ValueError>([&] { loader.shard(0, 0); }, {"rank 0 of world 0"});
}

TEST(DataLoader, MnistBatchesAreNormalisedFloatImagesAndInt64Labels) {
  // Pixel values 0, 1, ..., 255 spread over four 8x8 images.
  Tensor images = Tensor::empty(Shape{4, 8, 8}, DType::u8);
  for (int i = 0; i < 256; ++i) images.data<uint8_t>()[i] = static_cast<uint8_t>(i);
  Tensor labels = Tensor::from_vector<uint8_t>(Shape{4}, {3, 1, 4, 1});
  MnistDataset data(images, labels);
  DataLoader loader(data, 3, /*shuffle=*/false, 0);
  std::vector<Batch> batches;
  for (const Batch& b : loader.epoch(0)) batches.push_back(b);
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[0].input.shape(), (Shape{3, 1, 8, 8}));
  EXPECT_EQ(batches[0].input.dtype(), DType::f32);
  EXPECT_EQ(batches[0].target.dtype(), DType::i64);
  EXPECT_EQ(batches[0].target.to_vector<int64_t>(), (std::vector<int64_t>{3, 1, 4}));
  EXPECT_EQ(batches[1].input.shape(), (Shape{1, 1, 8, 8}));
  EXPECT_EQ(batches[1].target.to_vector<int64_t>(), (std::vector<int64_t>{1}));
  std::vector<float> first = batches[0].input.to_vector<float>();
  std::vector<float> last = batches[1].input.to_vector<float>();
  for (int i = 0; i < 192; ++i)
    EXPECT_EQ(first[i], static_cast<float>((i / 255.0 - 0.1307) / 0.3081)) << "pixel " << i;
  for (int i = 0; i < 64; ++i) EXPECT_EQ(last[i], static_cast<float>(((192 + i) / 255.0 - 0.1307) / 0.3081));
  EXPECT_NEAR(first[0], -0.4242, 1e-4);  // the familiar MNIST background value
  EXPECT_NEAR(last[63], 2.8215, 1e-4);   // white
}

TEST(DataLoader, FashionNormalisation) {
  MnistDataset data(Tensor::full(Shape{1, 2, 2}, 255, DType::u8), Tensor::zeros(Shape{1}, DType::u8),
                    Normalization::named("fashion"));
  DataLoader loader(data, 1, false, 0);
  loader.start_epoch(0);
  Batch b = *loader.next();
  EXPECT_EQ(b.input.to_vector<float>()[0], static_cast<float>((1.0 - 0.2860) / 0.3530));
  EXPECT_EQ(Normalization::named("mnist").std, 0.3081);
  expect_error<ValueError>([] { Normalization::named("cifar"); }, {"unknown data set 'cifar'"});
}

TEST(DataLoader, ComputeNormalization) {
  // Half black, half white: mean 0.5, std 0.5.
  Tensor images = Tensor::zeros(Shape{2, 3, 3}, DType::u8);
  for (int i = 0; i < 9; ++i) images.data<uint8_t>()[i] = 255;
  Normalization n = compute_normalization(images);
  EXPECT_DOUBLE_EQ(n.mean, 0.5);
  EXPECT_DOUBLE_EQ(n.std, 0.5);
  Tensor gray = Tensor::full(Shape{1, 4, 4}, 51, DType::u8);
  n = compute_normalization(gray);
  EXPECT_DOUBLE_EQ(n.mean, 0.2);
  EXPECT_NEAR(n.std, 0.0, 1e-12);
}

TEST(DataLoader, PrefetchGivesTheSameBatches) {
  Tensor images = Tensor::empty(Shape{50, 28, 28}, DType::u8);
  uint32_t x = 1;
  for (int64_t i = 0; i < images.numel(); ++i) images.data<uint8_t>()[i] = static_cast<uint8_t>((x = x * 1664525u + 1013904223u) >> 24);
  Tensor labels = Tensor::empty(Shape{50}, DType::u8);
  for (int i = 0; i < 50; ++i) labels.data<uint8_t>()[i] = static_cast<uint8_t>(i % 10);
  MnistDataset data(images, labels);
  DataLoader with(data, 8, true, 5, false, /*prefetch=*/true), without(data, 8, true, 5, false, /*prefetch=*/false);
  for (int64_t e = 0; e < 2; ++e) {
    with.start_epoch(e);
    without.start_epoch(e);
    int64_t count = 0;
    while (auto a = with.next()) {
      auto b = without.next();
      ASSERT_TRUE(b.has_value());
      EXPECT_EQ(a->index, b->index);
      EXPECT_EQ(a->input.to_vector<float>(), b->input.to_vector<float>());
      EXPECT_EQ(a->target.to_vector<int64_t>(), b->target.to_vector<int64_t>());
      ++count;
    }
    EXPECT_FALSE(without.next().has_value());
    EXPECT_EQ(count, 7);
  }
}

// Waits (up to 5 s) until the data set has gathered `n` batches.
bool wait_for_calls(const IndexDataset& data, int n) {
  for (int i = 0; i < 500 && data.calls.load() < n; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return data.calls.load() >= n;
}

TEST(DataLoader, PrefetchStaysAtMostTwoBatchesAhead) {
  auto data = std::make_shared<IndexDataset>(100);
  DataLoader loader(data, 10, false, 0);
  loader.start_epoch(0);
  ASSERT_TRUE(wait_for_calls(*data, 2));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(data->calls.load(), 2);
  ASSERT_TRUE(loader.next().has_value());
  ASSERT_TRUE(wait_for_calls(*data, 3));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(data->calls.load(), 3);
}

TEST(DataLoader, DestroyingMidEpochStopsTheThread) {
  auto data = std::make_shared<IndexDataset>(1000, -1, /*sleep_ms=*/5);
  for (int taken : {0, 1, 3}) {
    auto start = std::chrono::steady_clock::now();
    {
      DataLoader loader(data, 10, true, 1);
      loader.start_epoch(0);
      for (int i = 0; i < taken; ++i) ASSERT_TRUE(loader.next().has_value());
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  }
  // Restarting mid-epoch abandons the old epoch cleanly too.
  DataLoader loader(data, 10, true, 1);
  loader.start_epoch(0);
  loader.next();
  EXPECT_EQ(run_epoch(loader, 1).size(), 100u);
}

TEST(DataLoader, ErrorsWhileGatheringReachTheCaller) {
  for (bool prefetch : {false, true}) {
    // Sample 25 sits in batch 2 without shuffling.
    DataLoader loader(std::make_shared<IndexDataset>(50, /*fail_at=*/25), 10, false, 0, false, prefetch);
    loader.start_epoch(0);
    EXPECT_TRUE(loader.next().has_value());
    EXPECT_TRUE(loader.next().has_value());
    expect_error<IoError>([&] { loader.next(); }, {"sample 25 is unreadable"});
    EXPECT_FALSE(loader.next().has_value()) << "a failed batch ends the epoch";
    // The next epoch starts afresh (and fails at the same place).
    loader.start_epoch(1);
    EXPECT_TRUE(loader.next().has_value());
  }
}

TEST(DataLoader, ArgumentChecks) {
  expect_error<ValueError>([] { DataLoader(std::make_shared<IndexDataset>(5), 0, false, 0); },
                           {"batch_size must be >= 1, got 0"});
  expect_error<ValueError>([] { DataLoader(std::shared_ptr<const Dataset>(), 1, false, 0); }, {"no data set"});
  DataLoader loader(std::make_shared<IndexDataset>(5), 2, false, 0);
  expect_error<ValueError>([&] { loader.next(); }, {"call start_epoch(e)"});
  DataLoader empty(std::make_shared<IndexDataset>(0), 2, true, 0);
  EXPECT_EQ(empty.num_batches(), 0);
  EXPECT_TRUE(run_epoch(empty, 0).empty());
}

}  // namespace
}  // namespace dagrad
