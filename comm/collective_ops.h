// Collective ops, above ops/: allreduce_mean averages its inputs over the ranks of the
// communicator its node carries (AllreduceParams), so no kernel reaches for a process
// global. The trainer puts one node per gradient bucket between backward and the
// optimizer updates; the scheduler runs collectives on a stream of their own (the op's
// comm_stream flag), in program order on every rank.
#pragma once
#include <source_location>
#include <string>
#include <vector>

#include "comm/communicator.h"
#include "ops/kernel_table.h"
#include "ops/op_def.h"

namespace dagrad::comm {

// What an allreduce_mean node carries: the communicator, which must outlive the graph.
struct AllreduceParams {
  Communicator* comm = nullptr;
  template <class V>
  static void fields(V&) {}
};

// The op, registered with its CPU and CUDA kernels at the first call (the builders call
// it; so do the generic op tests and `dagrad ops`).
const OpDef& allreduce_mean_op();

// out_i = mean over c's ranks of xs[i] (all floating, of one dtype); one collective for
// the whole list. The node is named `name` (default: allreduce_mean_<id>).
std::vector<Value> allreduce_mean(std::vector<Value> xs, Communicator& c, std::string name = {},
                                  const std::source_location& loc = std::source_location::current());

// The CUDA kernel's registration (comm/cuda_collectives.cpp; a no-op without CUDA).
void fill_cuda_collectives(KernelTable& t, const OpDef& allreduce);

}  // namespace dagrad::comm
