// Helpers shared by the scheduler tests.
#pragma once
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "ops/interpreter.h"
#include "scheduler/plan.h"
#include "scheduler/plan_check.h"

namespace dagrad::scheduler::testing {

// Same shape, dtype and bytes (NaNs compare by their bits).
inline bool bit_equal(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && a.dtype() == b.dtype() &&
         (a.nbytes() == 0 || std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0);
}

inline TensorMap clone_all(const TensorMap& m) {
  TensorMap out;
  for (const auto& [k, t] : m) out[k] = t.clone();
  return out;
}

inline TensorMap merged(const TensorMap& a, const TensorMap& b) {
  TensorMap out = a;
  for (const auto& [k, t] : b) out[k] = t;
  return out;
}

inline std::string joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

#define EXPECT_PLAN_SAFE(plan)                                                                                  \
  do {                                                                                                          \
    auto _violations = ::dagrad::scheduler::check_plan(plan);                                                   \
    EXPECT_TRUE(_violations.empty()) << ::dagrad::scheduler::testing::joined(_violations) << (plan).to_table(); \
  } while (0)

// A plan broken on purpose: check_plan must report it, with a violation mentioning `what`.
inline void expect_violation(const ExecutionPlan& plan, const std::string& what) {
  const std::vector<std::string> violations = check_plan(plan);
  ASSERT_FALSE(violations.empty()) << "the broken plan passed the check\n" << plan.to_table();
  EXPECT_NE(joined(violations).find(what), std::string::npos) << joined(violations);
}

// Outputs (or state) of a run against the reference's, bit for bit.
inline ::testing::AssertionResult all_bit_equal(const std::vector<Tensor>& got, const std::vector<Tensor>& want) {
  if (got.size() != want.size())
    return ::testing::AssertionFailure() << got.size() << " outputs, want " << want.size();
  for (size_t i = 0; i < got.size(); ++i)
    if (!bit_equal(got[i], want[i]))
      return ::testing::AssertionFailure() << "output " << i << "\n got " << got[i].to_string() << "\nwant "
                                           << want[i].to_string();
  return ::testing::AssertionSuccess();
}
inline ::testing::AssertionResult all_bit_equal(const TensorMap& got, const TensorMap& want) {
  for (const auto& [name, t] : want)
    if (!got.count(name) || !bit_equal(got.at(name), t)) return ::testing::AssertionFailure() << "'" << name << "' differs";
  return ::testing::AssertionSuccess();
}

// The largest total of (aligned) arena bytes live at one point of the issue order: a
// lower bound for any valid arena.
inline size_t max_live_bytes(const ExecutionPlan& p) {
  size_t best = 0;
  for (size_t i = 0; i <= p.steps.size(); ++i) {
    size_t live = 0;
    for (const Buffer& b : p.buffers)
      if (b.kind == Buffer::Kind::arena && b.first_use >= 0 && b.first_use <= static_cast<int>(i) &&
          static_cast<int>(i) <= b.last_use)
        live += (b.bytes + p.options.alignment - 1) / p.options.alignment * p.options.alignment;
    best = std::max(best, live);
  }
  return best;
}

// float32 values in [-scale, scale] from a xorshift stream: the same on every machine.
inline Tensor pseudo_random(const Shape& s, uint64_t seed, double scale) {
  Tensor t = Tensor::empty(s, DType::f32);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (int64_t i = 0; i < t.numel(); ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t.data<float>()[i] = static_cast<float>(scale * ((x % 2001) / 1000.0 - 1.0));
  }
  return t;
}

}  // namespace dagrad::scheduler::testing
