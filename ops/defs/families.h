// Each op family registers its OpDefs in one function; registry.cpp calls them all.
#pragma once

namespace dagrad {
class OpRegistry;

void register_source_ops(OpRegistry& r);       // input, parameter, full
void register_elementwise_ops(OpRegistry& r);  // unary and broadcasting binary math
void register_cast_ops(OpRegistry& r);         // cast between dtypes
void register_reduce_ops(OpRegistry& r);       // sum, mean, max, sum_to, broadcast_to, softmax, argmax
void register_shape_ops(OpRegistry& r);        // reshape, transpose, permute, concat, slice
void register_linalg_ops(OpRegistry& r);       // matmul
void register_conv_ops(OpRegistry& r);         // conv2d and its backward ops, pooling
void register_nn_ops(OpRegistry& r);           // losses, dropout, batch_norm, accuracy
void register_norm_ops(OpRegistry& r);         // layer_norm and its backward op
void register_index_ops(OpRegistry& r);        // gather and its backward op
void register_attention_ops(OpRegistry& r);    // fused scaled-dot-product attention and its backward op
void register_optim_ops(OpRegistry& r);        // optimizer update nodes
}  // namespace dagrad
