#include "ops/kernel_table.h"

#include <array>

#include "ops/registry.h"
#include "runtime/error.h"

namespace dagrad {

void KernelTable::set(const OpDef& op, Kernel k) {
  DAGRAD_ASSERT(op.id >= 0);
  if (by_op_.size() <= static_cast<size_t>(op.id)) by_op_.resize(op.id + 1, nullptr);
  by_op_[op.id] = k;
}

Kernel KernelTable::find(const OpDef& op) const {
  return op.id >= 0 && static_cast<size_t>(op.id) < by_op_.size() ? by_op_[op.id] : nullptr;
}

KernelTable& mutable_kernel_table(DeviceType d) {
  static std::array<KernelTable, kNumDeviceTypes>* tables = [] {
    OpRegistry::instance();  // the handles the backends key by exist from here on
    auto* t = new std::array<KernelTable, kNumDeviceTypes>;
    fill_cpu_kernels((*t)[static_cast<int>(DeviceType::cpu)]);
    fill_cuda_kernels((*t)[static_cast<int>(DeviceType::cuda)]);
    return t;
  }();
  return (*tables)[static_cast<int>(d)];
}

const KernelTable& kernel_table(DeviceType d) { return mutable_kernel_table(d); }

}  // namespace dagrad
