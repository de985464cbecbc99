#include "ops/defs/families.h"

namespace dagrad {
void register_optim_ops(OpRegistry&) {}
}  // namespace dagrad
