// Attention's memory and time against the sequence length: the fused op and its composed
// reference (matmul, softmax, matmul), each as a compiled training step (forward, a loss,
// the gradients of q, k and v) at a few lengths. The planned arena is the plan's peak
// memory, known before anything runs: linear in L for the fused op, quadratic for the
// composed one, whose [N,H,L,L] scores, probabilities and their gradients it holds.
#include <algorithm>
#include <chrono>
#include <cstdio>

#include "autograd/grad.h"
#include "bench/bench.h"
#include "ops/ops.h"
#include "runtime/rng.h"
#include "runtime/thread_pool.h"
#include "scheduler/session.h"

namespace dagrad::bench {

namespace {

double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

AttentionRate measure(const AttentionBenchOptions& o, int64_t length, bool fused) {
  const Shape shape{o.batch, o.heads, length, o.dim};
  scheduler::Session session([&](Graph& g, const TensorMap&) -> std::vector<Value> {
    Value q = g.input("q", shape), k = g.input("k", shape), v = g.input("v", shape), w = g.input("w", shape);
    Value out = fused ? scaled_dot_product_attention(q, k, v) : scaled_dot_product_attention_composed(q, k, v);
    Value loss = sum(out * w);
    std::vector<Value> outputs = autograd::grad(g, loss, {q, k, v});
    outputs.push_back(loss);
    return outputs;
  });
  TensorMap in;
  Generator gen(o.seed);
  for (const char* name : {"q", "k", "v", "w"}) {
    Tensor t = Tensor::empty(shape);
    fill_normal(t, gen, 0.0, 1.0);
    in[name] = t;
  }
  AttentionRate r;
  r.length = length;
  r.fused = fused;
  r.arena_mib = static_cast<double>(session.executor_for(in).arena_bytes()) / (1 << 20);
  r.scores_mib = static_cast<double>(o.batch * o.heads * length * length * 4) / (1 << 20);
  std::vector<Tensor> out;
  session.run(in, out);  // warm-up: first touch of the arena, per-thread scratch
  const double wall0 = now_s(), cpu0 = process_cpu_seconds();
  do {
    session.run(in, out);
    ++r.runs;
  } while (r.runs < 2 || now_s() - wall0 < o.seconds);
  r.ms_per_run = 1e3 * (now_s() - wall0) / static_cast<double>(r.runs);
  r.cpu_ms_per_run = 1e3 * (process_cpu_seconds() - cpu0) / static_cast<double>(r.runs);
  return r;
}

}  // namespace

std::vector<AttentionRate> attention_rates(const AttentionBenchOptions& o) {
  if (o.batch <= 0 || o.heads <= 0 || o.dim <= 0 || o.lengths.empty())
    throw ValueError("[bench] attention: batch, heads, dim and the lengths must be positive");
  for (int64_t l : o.lengths)
    if (l <= 0) throw ValueError(str_cat("[bench] attention: lengths must be positive, got ", l));
  set_num_threads(o.threads);
  std::vector<AttentionRate> rates;
  for (int64_t l : o.lengths)
    for (bool fused : {true, false}) rates.push_back(measure(o, l, fused));
  return rates;
}

std::string format_attention_rates(const AttentionBenchOptions& o, const std::vector<AttentionRate>& rates) {
  std::string out;
  char line[300];
  std::snprintf(line, sizeof line,
                "attention training step (forward, loss, dq/dk/dv), q/k/v [%lld,%lld,L,%lld] float32, %d threads\n",
                static_cast<long long>(o.batch), static_cast<long long>(o.heads), static_cast<long long>(o.dim),
                o.threads);
  out += line;
  std::snprintf(line, sizeof line, "%6s  %-38s %10s %14s %9s %11s\n", "L", "attention", "arena MiB", "[N,H,L,L] MiB",
                "ms/run", "CPU ms/run");
  out += line;
  for (const AttentionRate& r : rates) {
    std::snprintf(line, sizeof line, "%6lld  %-38s %10.2f %14.2f %9.2f %11.2f\n", static_cast<long long>(r.length),
                  r.fused ? "fused (scaled_dot_product_attention)" : "composed (matmul, softmax, matmul)",
                  r.arena_mib, r.scores_mib, r.ms_per_run, r.cpu_ms_per_run);
    out += line;
  }
  return out;
}

}  // namespace dagrad::bench
