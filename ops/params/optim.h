// Typed parameters of the optimizer updates (also the builders' options, ops/ops.h).
#pragma once

namespace dagrad {

// torch.optim.SGD: momentum (a buffer input is needed when > 0), weight decay, Nesterov.
struct SgdParams {
  double momentum = 0;
  double weight_decay = 0;
  bool nesterov = false;

  template <class V>
  static void fields(V& v) {
    v.field("momentum", &SgdParams::momentum);
    v.field("weight_decay", &SgdParams::weight_decay);
    v.field("nesterov", &SgdParams::nesterov);
  }
};

// torch.optim.Adam, or AdamW with decoupled_weight_decay.
struct AdamParams {
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool decoupled_weight_decay = false;

  template <class V>
  static void fields(V& v) {
    v.field("beta1", &AdamParams::beta1);
    v.field("beta2", &AdamParams::beta2);
    v.field("eps", &AdamParams::eps);
    v.field("weight_decay", &AdamParams::weight_decay);
    v.field("decoupled", &AdamParams::decoupled_weight_decay);
  }
};

}  // namespace dagrad
