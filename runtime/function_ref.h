// A non-owning reference to a callable: two pointers, never allocates. Used where a
// callable is only invoked during the call that receives it (parallel_for), so the hot
// path pays no std::function heap allocation for lambdas with several captures.
// The referenced callable must outlive every call through the reference.
#pragma once
#include <memory>
#include <type_traits>
#include <utility>

namespace dagrad {

template <class Signature>
class FunctionRef;

template <class R, class... Args>
class FunctionRef<R(Args...)> {
 public:
  template <class F>
    requires(!std::is_same_v<std::remove_cvref_t<F>, FunctionRef> && std::is_invocable_r_v<R, F&, Args...>)
  FunctionRef(F&& f) noexcept  // NOLINT(google-explicit-constructor): binds like a std::function parameter
      : object_(const_cast<void*>(static_cast<const void*>(std::addressof(f)))),
        call_([](void* o, Args... args) -> R {
          return (*static_cast<std::remove_reference_t<F>*>(o))(std::forward<Args>(args)...);
        }) {}

  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

}  // namespace dagrad
