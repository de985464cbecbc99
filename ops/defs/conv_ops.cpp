#include "ops/defs/families.h"

namespace dagrad {
void register_conv_ops(OpRegistry&) {}
}  // namespace dagrad
