// Handles of the built-in ops that backends give kernels of their own, set when the
// registry is built (OpRegistry::instance()): kernel tables are keyed by them, so a
// kernel is attached to an op checked by the compiler, not by a name string.
// Elementwise ops need no handle: every backend runs them from their per-element form.
#pragma once

namespace dagrad {
struct OpDef;
}

namespace dagrad::op {

// sources (source_ops.cpp)
extern const OpDef* input;
extern const OpDef* parameter;
extern const OpDef* full;
// dtype conversion (cast_ops.cpp)
extern const OpDef* cast;
extern const OpDef* constant;
// reductions and softmax (reduce_ops.cpp)
extern const OpDef* sum;
extern const OpDef* mean;
extern const OpDef* max;
extern const OpDef* prod;
extern const OpDef* sum_to;
extern const OpDef* broadcast_to;
extern const OpDef* softmax;
extern const OpDef* log_softmax;
extern const OpDef* argmax;
// shape (shape_ops.cpp)
extern const OpDef* reshape;
extern const OpDef* transpose;
extern const OpDef* permute;
extern const OpDef* concat;
extern const OpDef* slice;
// linear algebra, convolution and pooling (linalg_ops.cpp, conv_ops.cpp)
extern const OpDef* matmul;
extern const OpDef* conv2d;
extern const OpDef* conv2d_backward_input;
extern const OpDef* conv2d_backward_weight;
extern const OpDef* max_pool2d;
extern const OpDef* conv2d_max_pool2d;
extern const OpDef* max_pool2d_backward;
extern const OpDef* max_pool2d_gather;
extern const OpDef* avg_pool2d;
extern const OpDef* avg_pool2d_backward;
// nn (nn_ops.cpp)
extern const OpDef* nll_loss;
extern const OpDef* nll_loss_backward;
extern const OpDef* softmax_cross_entropy;
extern const OpDef* softmax_cross_entropy_backward;
extern const OpDef* accuracy;
extern const OpDef* one_hot;
extern const OpDef* confusion_matrix;
extern const OpDef* dropout;
extern const OpDef* batch_norm;
extern const OpDef* batch_norm_backward;
// normalisation (norm_ops.cpp)
extern const OpDef* layer_norm;
extern const OpDef* layer_norm_backward;
// indexing (index_ops.cpp)
extern const OpDef* gather;
extern const OpDef* gather_backward;
// attention (attention_ops.cpp)
extern const OpDef* scaled_dot_product_attention;
extern const OpDef* scaled_dot_product_attention_backward;
// optimizer updates (optim_ops.cpp)
extern const OpDef* sgd_update;
extern const OpDef* adam_update;

}  // namespace dagrad::op
