// The CPU launcher of elementwise programs (ops/elementwise_program.h): tiles of a few
// hundred elements, in parallel over tiles, each member op's tile function run on
// cache-resident registers. It runs every elementwise op that has no kernel of its own
// and every fused group.
#pragma once
#include <span>

#include "ops/elementwise_program.h"

namespace dagrad {

void run_program_cpu(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                     Stream* stream = nullptr);
// Elements [begin, end) only, on the calling thread; input handed_input (>= 0) from the
// piece handed on this thread, if any (ops/cpu/epilogue_piece.h).
void run_program_range_cpu(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                           int64_t begin, int64_t end, int handed_input = -1);

}  // namespace dagrad
