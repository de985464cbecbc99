// elementwise_form<F, P>(): the per-element form of an op whose math is the functor F of
// ops/elementwise_math.h, with its scalar members taken from the double fields of the
// op's parameter struct P. Everything else derives from F: its name (F<T>::kName) for
// the generated CUDA code, its arity, and the tile functions the CPU runs.
#pragma once
#include <cstdint>
#include <type_traits>
#include <utility>

#include "ops/elementwise_math.h"
#include "ops/op_def.h"

namespace dagrad {

namespace ew_detail {

template <template <class> class F>
inline constexpr bool is_unary = std::is_invocable_v<F<float>, float>;

// F<T> from `params`, in member order.
template <template <class> class F, int N, class T>
F<T> make_functor(const double* params) {
  return [&]<size_t... I>(std::index_sequence<I...>) {
    return F<T>{static_cast<T>(params[I])...};
  }(std::make_index_sequence<N>{});
}

// The number of scalar members of F (an aggregate of T's).
template <template <class> class F>
constexpr int member_count() {
  if constexpr (requires { F<double>{1.0, 1.0, 1.0}; }) return 3;
  else if constexpr (requires { F<double>{1.0, 1.0}; }) return 2;
  else if constexpr (requires { F<double>{1.0}; }) return 1;
  else return 0;
}

// out[i] = f(in[0][i], in[1][i]) over n elements.
template <template <class> class F, int N, class T>
void tile(const T* const* in, T* out, int64_t n, const double* params) {
  const F<T> f = make_functor<F, N, T>(params);
  if constexpr (is_unary<F>) {
    const T* x = in[0];
    for (int64_t i = 0; i < n; ++i) out[i] = f(x[i]);
  } else {
    const T* a = in[0];
    const T* b = in[1];
    for (int64_t i = 0; i < n; ++i) out[i] = f(a[i], b[i]);
  }
}

template <class P>
void params_of(const Node& n, double* out) {
  scalar_params(n.params<P>(), out);
}

}  // namespace ew_detail

template <template <class> class F, class P = void>
ElementwiseDef elementwise_form() {
  constexpr int n = ew_detail::member_count<F>();
  static_assert(n <= kMaxScalarParams);
  ElementwiseDef d;
  d.functor = F<float>::kName;
  d.arity = ew_detail::is_unary<F> ? 1 : 2;
  d.num_params = n;
  if constexpr (!std::is_void_v<P>) d.params = ew_detail::params_of<P>;
  d.tile_f32 = ew_detail::tile<F, n, float>;
  d.tile_f64 = ew_detail::tile<F, n, double>;
  return d;
}

}  // namespace dagrad
