// Error hierarchy: every user-facing failure is a dagrad::Error with a message that
// says what was wrong and what to change. Internal invariants use DAGRAD_ASSERT.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace dagrad {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};
class ShapeError : public Error { using Error::Error; };        // incompatible shapes / ranks
class TypeError : public Error { using Error::Error; };         // wrong dtype
class ValueError : public Error { using Error::Error; };        // bad attribute / argument value
class GraphError : public Error { using Error::Error; };        // malformed graph (cycle, foreign value)
class IoError : public Error { using Error::Error; };           // files: missing, truncated, corrupt
class DeviceError : public Error { using Error::Error; };       // missing device, driver errors
class OutOfMemoryError : public Error { using Error::Error; };  // allocation failed
class InternalError : public Error { using Error::Error; };     // a dagrad bug, never the user's

// Concatenates anything streamable: str_cat("[conv2d] got ", n, " channels").
template <class... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

}  // namespace dagrad

// Invariants of dagrad itself; throws instead of aborting so a host program survives.
#define DAGRAD_ASSERT(cond)                                                              \
  do {                                                                                   \
    if (!(cond))                                                                         \
      throw ::dagrad::InternalError(::dagrad::str_cat("internal error: ", #cond, " at ", \
                                                      __FILE__, ":", __LINE__));         \
  } while (0)
