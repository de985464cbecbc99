#include "ops/defs/families.h"

namespace dagrad {
void register_nn_ops(OpRegistry&) {}
}  // namespace dagrad
