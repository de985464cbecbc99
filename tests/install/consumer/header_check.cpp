// Compiled with nothing but dagrad::dagrad, in the build tree and against an installed
// prefix: the umbrella header stands on its own, keeps its helper macros to itself, and
// the version macros agree with the library linked.
#include <dagrad/dagrad.h>

#include <cstdio>
#include <cstring>

// Helper macros of the implementation and of the tests must not reach users.
#ifdef DAGRAD_LOC
#error "DAGRAD_LOC (ops/ops.h's default source_location argument) leaks from the public headers"
#endif
#if defined(DAGRAD_OP_CASES) || defined(DAGRAD_CASES_CAT) || defined(DAGRAD_CASES_CAT2)
#error "the test-table macros of tests/ops/op_cases.h leak from the public headers"
#endif
#if defined(DAGRAD_MATH_UNARY) || defined(CUDA_CHECK) || defined(DAGRAD_CUDA_CHECK)
#error "a kernel helper macro leaks from the public headers"
#endif

#if !defined(DAGRAD_VERSION_MAJOR) || !defined(DAGRAD_VERSION_MINOR) || !defined(DAGRAD_VERSION_PATCH)
#error "dagrad/version.h does not define the version macros"
#endif
static_assert(DAGRAD_VERSION == DAGRAD_VERSION_MAJOR * 10000 + DAGRAD_VERSION_MINOR * 100 + DAGRAD_VERSION_PATCH);

// Nothing of dagrad is visible unqualified: no `using namespace dagrad` took effect.
namespace probe {
struct Tensor {};
}  // namespace probe
using namespace probe;
static_assert(sizeof(Tensor) == 1);  // ambiguous if a header had `using namespace dagrad`

int main() {
  const char* linked = dagrad::version();
  std::printf("dagrad headers %s, library %s\n", DAGRAD_VERSION_STRING, linked);
  if (std::strcmp(linked, DAGRAD_VERSION_STRING) != 0) {
    std::fprintf(stderr, "version mismatch: headers %s, library %s\n", DAGRAD_VERSION_STRING, linked);
    return 1;
  }
  // A few calls through the public API, so the link line is exercised too.
  dagrad::Graph g;
  dagrad::Value x = g.input("x", dagrad::Shape{2, 3});
  dagrad::Value y = dagrad::relu(x) * 2.0;
  dagrad::Tensor in = dagrad::Tensor::full(dagrad::Shape{2, 3}, -1.5);
  std::vector<dagrad::Tensor> out = dagrad::interpret(g, std::vector<dagrad::Value>{y}, {{"x", in}});
  if (out[0].data<float>()[0] != 0.0f) {
    std::fprintf(stderr, "relu(-1.5) * 2 gave %g\n", static_cast<double>(out[0].data<float>()[0]));
    return 1;
  }
  std::printf("header check passed (%zu ops registered)\n", dagrad::OpRegistry::instance().all().size());
  return 0;
}
