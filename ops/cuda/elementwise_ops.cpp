// CUDA kernels of the elementwise ops: the functor of each op (ops/elementwise_math.h)
// through the launchers of elementwise.cu, with the CPU's broadcasting plan.
#include "ops/cpu/elementwise.h"
#include "ops/cuda/functor_list.h"
#include "ops/cuda/glue.h"
#include "ops/elementwise_math.h"

namespace dagrad::cuda {

// The launchers are instantiated in elementwise.cu for every functor of functor_list.h.
#define DAGRAD_DECLARE_UNARY(F, NP)                                                              \
  extern template void launch_unary<F<float>, float>(F<float>, const float*, float*, int64_t,  \
                                                     cudaStream_t);                             \
  extern template void launch_unary<F<double>, double>(F<double>, const double*, double*, int64_t, cudaStream_t);
#define DAGRAD_DECLARE_BINARY_T(F, T)                                                                         \
  extern template void launch_binary_flat<F<T>, T>(F<T>, const T*, int64_t, const T*, int64_t, T*, int64_t,   \
                                                   cudaStream_t);                                              \
  extern template void launch_binary_broadcast<F<T>, T>(F<T>, const T*, const StridedView&, const T*,         \
                                                        const StridedView&, T*, int64_t, cudaStream_t);
#define DAGRAD_DECLARE_BINARY(F, NP) \
  DAGRAD_DECLARE_BINARY_T(F, float)  \
  DAGRAD_DECLARE_BINARY_T(F, double)
DAGRAD_CUDA_UNARY_FUNCTORS(DAGRAD_DECLARE_UNARY)
DAGRAD_CUDA_BINARY_FUNCTORS(DAGRAD_DECLARE_BINARY)
#undef DAGRAD_DECLARE_UNARY
#undef DAGRAD_DECLARE_BINARY_T
#undef DAGRAD_DECLARE_BINARY

namespace {

template <class T, class F>
void binary(const F& f, const Tensor& a, const Tensor& b, Tensor& out, cudaStream_t s) {
  const int64_t n = out.numel(), na = a.numel(), nb = b.numel();
  if (n == 0) return;
  if ((na == n || na == 1) && (nb == n || nb == 1)) {
    launch_binary_flat(f, a.data<T>(), na == n ? 1 : 0, b.data<T>(), nb == n ? 1 : 0, out.data<T>(), n, s);
    return;
  }
  const cpu::BroadcastPlan p = cpu::plan_broadcast(out.shape(), a.shape(), b.shape());
  // Each view merges what it can on its own side; both map the same flat output index.
  const StridedView av = make_view(p.dims, p.strides[0], "broadcast"), bv = make_view(p.dims, p.strides[1], "broadcast");
  launch_binary_broadcast(f, a.data<T>(), av, b.data<T>(), bv, out.data<T>(), n, s);
}

template <template <class> class F, int NumParams>
void elementwise_cuda(const KernelContext& ctx) {
  const Node& node = ctx.node;
  const ElementwiseDef& ew = node.op->elementwise;
  const std::vector<double> params = ew.params ? ew.params(node.attrs) : std::vector<double>{};
  DAGRAD_ASSERT(static_cast<int>(params.size()) == NumParams);
  Tensor& out = ctx.outputs[0];
  const cudaStream_t s = handle_of(ctx);
  dispatch_floating(out.dtype(), node.op_name(), [&]<class T>() {
    const F<T> f = cpu::make_functor<F, NumParams, T>(params.data());
    if constexpr (cpu::is_unary_functor<F>)
      launch_unary(f, ctx.inputs[0].data<T>(), out.data<T>(), out.numel(), s);
    else
      binary<T>(f, ctx.inputs[0], ctx.inputs[1], out, s);
  });
}

}  // namespace

void attach_elementwise(OpRegistry& r) {
  struct Entry {
    const char* op;
    Kernel kernel;
  };
  const Entry entries[] = {
      {"relu", elementwise_cuda<Relu, 0>},
      {"leaky_relu", elementwise_cuda<LeakyRelu, 1>},
      {"sigmoid", elementwise_cuda<Sigmoid, 0>},
      {"tanh", elementwise_cuda<Tanh, 0>},
      {"gelu", elementwise_cuda<Gelu, 0>},
      {"exp", elementwise_cuda<Exp, 0>},
      {"log", elementwise_cuda<Log, 0>},
      {"sqrt", elementwise_cuda<Sqrt, 0>},
      {"neg", elementwise_cuda<Neg, 0>},
      {"abs", elementwise_cuda<Abs, 0>},
      {"pow", elementwise_cuda<Pow, 1>},
      {"sign", elementwise_cuda<Sign, 0>},
      {"add", elementwise_cuda<Add, 0>},
      {"sub", elementwise_cuda<Sub, 0>},
      {"mul", elementwise_cuda<Mul, 0>},
      {"div", elementwise_cuda<Div, 0>},
      {"maximum", elementwise_cuda<Maximum, 0>},
      {"greater_equal", elementwise_cuda<GreaterEqual, 0>},
      {"relu_backward", elementwise_cuda<ReluBackward, 0>},
      {"leaky_relu_backward", elementwise_cuda<LeakyReluBackward, 1>},
      {"gelu_backward", elementwise_cuda<GeluBackward, 0>},
  };
  for (const Entry& e : entries) set_cuda_kernel(r, e.op, e.kernel);
}

}  // namespace dagrad::cuda
