// Training steps under every plan variant against the interpreter, for the scheduler tests
// that train (training_test.cpp, mixed_precision_test.cpp).
#pragma once
#include <gtest/gtest.h>

#include <initializer_list>
#include <iostream>
#include <vector>

#include "ops/interpreter.h"
#include "sched_test_util.h"
#include "scheduler/compile.h"
#include "scheduler/executor.h"

namespace dagrad::scheduler::testing {

// `steps` steps of (g, outputs) from `state`, compiled with fusion off, on and with
// epilogues, each of `stream_counts`, memory planning off and on, at `precision`: every
// step's first output and the final state equal the interpreter's bit for bit.
inline void expect_steps_match_interpreter(Graph& g, const std::vector<Value>& outputs, const TensorMap& inputs,
                                           const TensorMap& state, std::initializer_list<int> stream_counts,
                                           DType precision = DType::f32, int steps = 3) {
  TensorMap ref = clone_all(state);
  std::vector<Tensor> ref_loss;
  for (int s = 0; s < steps; ++s) ref_loss.push_back(interpret(g, outputs, merged(inputs, ref), s)[0]);
  for (int fuse = 0; fuse < 3; ++fuse)
    for (int streams : stream_counts)
      for (bool plan_memory : {false, true}) {
        SCOPED_TRACE(str_cat("fuse ", fuse, " streams ", streams, " plan_memory ", plan_memory));
        CompileOptions o;
        o.fuse = fuse > 0;
        o.fuse_epilogues = fuse > 1;
        o.num_streams = streams;
        o.plan_memory = plan_memory;
        o.precision = precision;
        ExecutionPlan plan = compile(g, outputs, o);
        EXPECT_PLAN_SAFE(plan);
        TensorMap run_state = clone_all(state);
        Executor ex(plan);
        ex.bind(run_state);
        for (int s = 0; s < steps; ++s) EXPECT_TRUE(bit_equal(ex.run(inputs)[0], ref_loss[s])) << "step " << s;
        for (const auto& [name, want] : ref) EXPECT_TRUE(bit_equal(run_state.at(name), want)) << name;
        if (::testing::Test::HasFailure()) {
          std::cout << plan.to_table();
          return;
        }
      }
}

}  // namespace dagrad::scheduler::testing
