// The CPU backend's kernel table: every op's CPU kernel, keyed by the op's handle, and
// the launcher of elementwise programs, which runs the elementwise ops (from their
// per-element form) and the fused groups.
#include <cstring>

#include "ops/builtin_ops.h"
#include "ops/cpu/attention.h"
#include "ops/cpu/cast.h"
#include "ops/cpu/conv.h"
#include "ops/cpu/elementwise_program.h"
#include "ops/cpu/gather.h"
#include "ops/cpu/matmul.h"
#include "ops/cpu/nn_kernels.h"
#include "ops/cpu/norm.h"
#include "ops/cpu/optim.h"
#include "ops/cpu/pool.h"
#include "ops/cpu/reduce.h"
#include "ops/cpu/shape.h"
#include "ops/kernel_table.h"
#include "ops/params/source.h"

namespace dagrad {

namespace {
void full_cpu(const KernelContext& ctx) { ctx.outputs[0].fill(ctx.params<FillParams>().value); }

void constant_cpu(const KernelContext& ctx) {
  const Tensor& v = ctx.params<ConstantParams>().value;
  if (v.nbytes()) std::memcpy(ctx.outputs[0].raw_data(), v.raw_data(), v.nbytes());
}
}  // namespace

void fill_cpu_kernels(KernelTable& t) {
  t.elementwise = run_program_cpu;
  t.elementwise_range = run_program_range_cpu;
  t.plane_sum_length = plane_sum_length_cpu;
  t.collect_plane_sums = collect_plane_sums_cpu;
  t.set(*op::full, full_cpu);
  t.set(*op::cast, cast_cpu);
  t.set(*op::constant, constant_cpu);

  t.set(*op::sum, sum_cpu);
  t.set(*op::mean, mean_cpu);
  t.set(*op::max, max_cpu);
  t.set(*op::prod, prod_cpu);
  t.set(*op::sum_to, sum_to_cpu);
  t.set(*op::broadcast_to, broadcast_to_cpu);
  t.set(*op::softmax, softmax_cpu);
  t.set(*op::log_softmax, log_softmax_cpu);
  t.set(*op::argmax, argmax_cpu);

  t.set(*op::reshape, reshape_cpu);
  t.set(*op::transpose, transpose_cpu);
  t.set(*op::permute, permute_cpu);
  t.set(*op::concat, concat_cpu);
  t.set(*op::slice, slice_cpu);

  t.set(*op::matmul, matmul_cpu);
  t.set(*op::conv2d, conv2d_cpu);
  t.set(*op::conv2d_backward_input, conv2d_backward_input_cpu);
  t.set(*op::conv2d_backward_weight, conv2d_backward_weight_cpu);
  t.set(*op::max_pool2d, max_pool2d_cpu);
  t.set(*op::conv2d_max_pool2d, conv2d_max_pool2d_cpu);
  t.set(*op::max_pool2d_backward, max_pool2d_backward_cpu);
  t.set(*op::max_pool2d_gather, max_pool2d_gather_cpu);
  t.set(*op::avg_pool2d, avg_pool2d_cpu);
  t.set(*op::avg_pool2d_backward, avg_pool2d_backward_cpu);

  t.set(*op::nll_loss, nll_loss_cpu);
  t.set(*op::nll_loss_backward, nll_loss_backward_cpu);
  t.set(*op::softmax_cross_entropy, softmax_cross_entropy_cpu);
  t.set(*op::softmax_cross_entropy_backward, softmax_cross_entropy_backward_cpu);
  t.set(*op::accuracy, accuracy_cpu);
  t.set(*op::confusion_matrix, confusion_matrix_cpu);
  t.set(*op::one_hot, one_hot_cpu);
  t.set(*op::dropout, dropout_cpu);
  t.set(*op::batch_norm, batch_norm_cpu);
  t.set(*op::batch_norm_backward, batch_norm_backward_cpu);
  t.set(*op::layer_norm, layer_norm_cpu);
  t.set(*op::layer_norm_backward, layer_norm_backward_cpu);
  t.set(*op::gather, gather_cpu);
  t.set(*op::gather_backward, gather_backward_cpu);
  t.set(*op::scaled_dot_product_attention, attention_cpu);
  t.set(*op::scaled_dot_product_attention_backward, attention_backward_cpu);

  t.set(*op::sgd_update, sgd_update_cpu);
  t.set(*op::adam_update, adam_update_cpu);
}

}  // namespace dagrad
