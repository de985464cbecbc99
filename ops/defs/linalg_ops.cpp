#include "ops/defs/families.h"

namespace dagrad {
void register_linalg_ops(OpRegistry&) {}
}  // namespace dagrad
