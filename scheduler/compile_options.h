// Switches for scheduler::compile. Every pass can be turned off, so its effect can be
// measured and its result compared with the plain plan.
#pragma once
#include <cstddef>
#include <string>
#include <vector>

#include "runtime/dtype.h"

namespace dagrad::scheduler {

struct CompileOptions {
  // Drop nodes that neither a requested output nor an in-place writer (optimizer update)
  // needs. Off: every node of the graph runs, so every input must be bound.
  bool prune = true;
  // Chains and trees of elementwise nodes with one output shape become one step.
  bool fuse = true;
  // A fused group reading the output of a producer whose op accepts epilogues (GEMMs,
  // convolutions) runs in the producer's step, right after it (in place over that output
  // when nothing else reads it). Needs `fuse`.
  bool fuse_epilogues = true;
  size_t max_group_size = 32;
  // Independent branches go to different streams; cross-stream edges become events.
  int num_streams = 1;
  // Collective ops (those flagged comm_stream, e.g. the cross-process all-reduce): when
  // the graph has any, they run on one extra stream of their own (index num_streams), in
  // program order, so communication overlaps computation while every rank issues its
  // collectives in the same order. Off: they stay on stream 0 with everything else.
  bool comm_stream = true;
  // Ready steps that free memory run first (still a deterministic topological order).
  // Off: program order (node ids).
  bool reorder_for_memory = true;
  // Buffers whose lives do not overlap share arena bytes. With several streams, "do not
  // overlap" means every access of one happens before the other's first write through
  // stream order and the plan's events (no event is added for the sake of reuse). Off:
  // every buffer gets its own region (the baseline), and nothing is computed in place.
  bool plan_memory = true;
  // An output takes the buffer of an input that dies at that step (ops with inplace_ok,
  // fused groups). Needs plan_memory.
  bool inplace = true;
  size_t alignment = 64;  // of every arena offset, in bytes
  // Mixed precision: bfloat16 (or float16) GEMM and convolution operands, float32
  // accumulation, everything else float32 (scheduler/mixed_precision.h). The pass runs on
  // the graph before the optimizer's update nodes are added, so whoever builds the graph
  // applies it (the Trainer does); compile() refuses a graph that still multiplies
  // float32 operands. float32: off.
  DType precision = DType::f32;
  // relu feeding max pooling moves after it, so pooling's gradient keeps only its small
  // index output (scheduler/commute_max.h). A rewrite of the forward graph before
  // autograd, applied like `precision` by whoever builds the graph (the Trainer does, to
  // its training graph); results are equal bit for bit either way (NaNs aside). Off: the graph as written.
  bool commute_max = true;
  // A sum over all axes but the channels of max pooling's gradient (a convolution's bias
  // gradient) sums the gradient before its scatter instead (scheduler/sum_before_scatter.h):
  // a quarter of the elements for a 2x2 pool, and with bfloat16 the scattered gradient is
  // then made in 16 bits. A rewrite of the backward graph, applied like `precision` (the
  // Trainer does); the same sums in another order. Off: the graph as autograd wrote it.
  bool sum_before_scatter = true;
  // max_pool2d of a conv2d whose output nothing else reads runs as one conv2d_max_pool2d
  // step that never stores the full-size convolution output (scheduler/fuse_conv_pool.h).
  // A rewrite applied like `precision` (the Trainer does, last, to its training and
  // evaluation graphs); the same bits either way. Off: the two ops.
  bool fuse_conv_pool = true;
  // Bytes the planned peak (arena) may take; 0: no limit. Above it, compile drops values
  // live across the peak and recomputes them for their later readers (clone nodes added
  // to the graph), cheapest FLOPs per byte first, until the plan fits or nothing more
  // helps; the plan then says what it reached (ExecutionPlan::recompute). Needs prune
  // and plan_memory.
  size_t memory_budget = 0;
};

}  // namespace dagrad::scheduler
