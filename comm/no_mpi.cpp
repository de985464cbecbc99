// Built when CMake found no MPI: saying so is all make_mpi() can do.
#include "comm/communicator.h"

namespace dagrad::comm {

bool mpi_built() { return false; }

std::unique_ptr<Communicator> make_mpi() {
  throw CommError(
      "[comm] this dagrad was built without MPI, so it cannot join an mpirun job; install libopenmpi-dev "
      "(scripts/setup.sh does) and rebuild");
}

}  // namespace dagrad::comm
