// Built without CUDA or without NCCL (nccl.h, libnccl): make_nccl() only explains.
#include "comm/communicator.h"

namespace dagrad::comm {

bool nccl_built() { return false; }

std::unique_ptr<Communicator> make_nccl(Communicator&, int) {
  throw CommError("[comm] this dagrad was built without NCCL (it needs CUDA and nccl.h/libnccl from the CUDA toolkit)");
}

}  // namespace dagrad::comm
