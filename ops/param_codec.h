// Typed op parameters. Each op family declares one plain struct (ops/params/*.h) whose
// static `fields(v)` lists its attributes: v.field(name, member) (optional: the struct's
// member initialiser is its default), v.required(name, member), and v.field_or(name,
// member, other) (optional: when absent, or left at its type's zero value in the struct,
// it takes member `other`'s value). From that one list these templates derive the
// attribute schema the graph checks, the decoding and the encoding the builders use.
// Attributes stay the serialised form (printing, JSON, ONNX); kernels, shape rules, vjps
// and cost models read the decoded struct, which each node keeps (Node::params).
#pragma once
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ops/attrs.h"
#include "ops/params/conv.h"
#include "runtime/dtype.h"
#include "runtime/error.h"

namespace dagrad {

// What the graph knows of an op's parameter struct.
struct ParamCodec {
  const void* type = nullptr;   // params_type<P>(): which struct the node holds
  std::vector<AttrSpec> schema;  // the attributes it reads
  std::shared_ptr<const void> (*decode)(const Attrs&) = nullptr;  // null: builder-supplied
};

// A unique address per parameter struct.
template <class P>
const void* params_type() {
  static const char tag = 0;
  return &tag;
}

namespace param_detail {

template <class M>
constexpr AttrKind kind_of() {
  if constexpr (std::is_same_v<M, bool>) return AttrKind::Bool;
  else if constexpr (std::is_integral_v<M>) return AttrKind::Int;
  else if constexpr (std::is_floating_point_v<M>) return AttrKind::Float;
  else if constexpr (std::is_same_v<M, std::string> || std::is_same_v<M, DType>) return AttrKind::String;
  else return AttrKind::Ints;  // std::vector<int64_t>, Hw
}

template <class M>
M read(const Attrs& a, const std::string& name) {
  if constexpr (std::is_same_v<M, bool>) return a.get_bool(name);
  else if constexpr (std::is_integral_v<M>) return static_cast<M>(a.get_int(name));
  else if constexpr (std::is_floating_point_v<M>) return static_cast<M>(a.get_float(name));
  else if constexpr (std::is_same_v<M, std::string>) return a.get_string(name);
  else if constexpr (std::is_same_v<M, DType>) return parse_dtype(a.get_string(name));
  else if constexpr (std::is_same_v<M, Hw>) {
    const std::vector<int64_t>& v = a.get_ints(name);
    if (v.size() != 2)
      throw ShapeError(str_cat(name, " must have 2 values (height, width), got ", attr_to_string(v)));
    return Hw(v[0], v[1]);
  } else {
    return a.get_ints(name);
  }
}

template <class M>
AttrValue write(const M& v) {
  if constexpr (std::is_same_v<M, bool>) return v;
  else if constexpr (std::is_integral_v<M>) return static_cast<int64_t>(v);
  else if constexpr (std::is_floating_point_v<M>) return static_cast<double>(v);
  else if constexpr (std::is_same_v<M, std::string>) return v;
  else if constexpr (std::is_same_v<M, DType>) return std::string(dtype_name(v));
  else if constexpr (std::is_same_v<M, Hw>) return std::vector<int64_t>{v.h, v.w};
  else return v;
}

struct SchemaVisitor {
  std::vector<AttrSpec> specs;
  template <class C, class M>
  void field(const char* name, M C::*) {
    specs.push_back({name, kind_of<M>(), false});
  }
  template <class C, class M>
  void field_or(const char* name, M C::*m, M C::*) {
    field(name, m);
  }
  template <class C, class M>
  void required(const char* name, M C::*) {
    specs.push_back({name, kind_of<M>(), true});
  }
};

template <class P>
struct DecodeVisitor {
  const Attrs& attrs;
  P& p;
  template <class C, class M>
  void field(const char* name, M C::*m) {
    if (attrs.has(name)) p.*m = read<M>(attrs, name);
  }
  template <class C, class M>
  void field_or(const char* name, M C::*m, M C::*other) {
    p.*m = attrs.has(name) ? read<M>(attrs, name) : p.*other;
  }
  template <class C, class M>
  void required(const char* name, M C::*m) {
    p.*m = read<M>(attrs, name);
  }
};

template <class P>
struct EncodeVisitor {
  const P& p;
  Attrs& attrs;
  template <class C, class M>
  void field(const char* name, M C::*m) {
    attrs.set(name, write(p.*m));
  }
  template <class C, class M>
  void required(const char* name, M C::*m) {
    attrs.set(name, write(p.*m));
  }
  template <class C, class M>
  void field_or(const char* name, M C::*m, M C::*other) {
    attrs.set(name, write(p.*m == M{} ? p.*other : p.*m));
  }
};

template <class P>
struct ScalarVisitor {
  const P& p;
  double* out;
  int n = 0;
  template <class C, class M>
  void field(const char*, M C::*m) {
    if constexpr (std::is_floating_point_v<M>) out[n++] = static_cast<double>(p.*m);
  }
  template <class C, class M>
  void required(const char* name, M C::*m) {
    field(name, m);
  }
  template <class C, class M>
  void field_or(const char* name, M C::*m, M C::*) {
    field(name, m);
  }
};

}  // namespace param_detail

// P from attributes (absent ones keep P's defaults). Errors (a pair of the wrong length)
// are ShapeErrors without the op's name; Graph::add_node adds it.
template <class P>
P decode_params(const Attrs& a) {
  P p{};
  param_detail::DecodeVisitor<P> v{a, p};
  P::fields(v);
  return p;
}

// The attributes of P, every field written.
template <class P>
Attrs encode_params(const P& p) {
  Attrs a;
  param_detail::EncodeVisitor<P> v{p, a};
  P::fields(v);
  return a;
}

// The codec of an op whose node holds a P decoded from its attributes.
template <class P>
ParamCodec params_codec() {
  param_detail::SchemaVisitor v;
  P::fields(v);
  return ParamCodec{params_type<P>(), std::move(v.specs), [](const Attrs& a) -> std::shared_ptr<const void> {
                      return std::make_shared<const P>(decode_params<P>(a));
                    }};
}

// The codec of an op whose P is given by its builder (a communicator, say), not decoded
// from attributes.
template <class P>
ParamCodec supplied_params() {
  return ParamCodec{params_type<P>(), {}, nullptr};
}

// The double fields of P in declaration order: an elementwise functor's members.
template <class P>
int scalar_params(const P& p, double* out) {
  param_detail::ScalarVisitor<P> v{p, out};
  P::fields(v);
  return v.n;
}

}  // namespace dagrad
