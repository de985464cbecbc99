// CPU kernels of the nn family (losses, dropout, batch norm, accuracy, confusion matrix), in
// the CPU table of ops/cpu/kernels.cpp.
#pragma once
#include "ops/op_def.h"

namespace dagrad {

void nll_loss_cpu(const KernelContext& ctx);
void nll_loss_backward_cpu(const KernelContext& ctx);
void softmax_cross_entropy_cpu(const KernelContext& ctx);
void softmax_cross_entropy_backward_cpu(const KernelContext& ctx);
void accuracy_cpu(const KernelContext& ctx);
void confusion_matrix_cpu(const KernelContext& ctx);
void one_hot_cpu(const KernelContext& ctx);
void dropout_cpu(const KernelContext& ctx);
void batch_norm_cpu(const KernelContext& ctx);
void batch_norm_backward_cpu(const KernelContext& ctx);

}  // namespace dagrad
