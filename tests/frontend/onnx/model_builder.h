// Builds small ONNX models in memory with libonnx's protobuf classes, for the importer's
// tests.
#pragma once
#include <onnx/onnx_pb.h>

#include <string>
#include <vector>

#include "frontend/onnx/tensor_proto.h"
#include "runtime/rng.h"

namespace dagrad::onnx::testing {

// Uniform in [-1, 1), reproducible from the seed.
inline Tensor random(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Generator g(seed);
  fill_uniform(t, g, -1.0, 1.0);
  return t;
}

class ModelBuilder {
 public:
  explicit ModelBuilder(int opset = 13) {
    model_.set_ir_version(7);
    auto* op = model_.add_opset_import();
    op->set_domain("");
    op->set_version(opset);
    model_.mutable_graph()->set_name("test");
  }
  // dims: -1 for a symbolic dimension.
  ModelBuilder& input(const std::string& name, std::vector<int64_t> dims, int elem = ::onnx::TensorProto::FLOAT) {
    value_info(model_.mutable_graph()->add_input(), name, dims, elem);
    return *this;
  }
  ModelBuilder& output(const std::string& name, std::vector<int64_t> dims = {},
                       int elem = ::onnx::TensorProto::FLOAT) {
    value_info(model_.mutable_graph()->add_output(), name, dims, elem);
    return *this;
  }
  ModelBuilder& initializer(const std::string& name, const Tensor& t) {
    tensor_to_proto(t, name, *model_.mutable_graph()->add_initializer());
    return *this;
  }
  ::onnx::NodeProto& node(const std::string& op, std::vector<std::string> in, std::vector<std::string> out,
                          const std::string& name = "") {
    auto* n = model_.mutable_graph()->add_node();
    n->set_op_type(op);
    n->set_name(name.empty() ? op + "_" + std::to_string(model_.graph().node_size() - 1) : name);
    for (auto& s : in) n->add_input(s);
    for (auto& s : out) n->add_output(s);
    return *n;
  }
  static void attr(::onnx::NodeProto& n, const std::string& name, int64_t v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attr(::onnx::NodeProto& n, const std::string& name, std::vector<int64_t> v) {
    auto* a = n.add_attribute();
    a->set_name(name);
    a->set_type(::onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  std::string bytes() const { return model_.SerializeAsString(); }
  ::onnx::ModelProto& proto() { return model_; }

 private:
  static void value_info(::onnx::ValueInfoProto* v, const std::string& name, const std::vector<int64_t>& dims,
                         int elem) {
    v->set_name(name);
    auto* tt = v->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(elem);
    auto* shape = tt->mutable_shape();
    for (int64_t d : dims) {
      auto* dim = shape->add_dim();
      if (d < 0) dim->set_dim_param("N");
      else dim->set_dim_value(d);
    }
  }
  ::onnx::ModelProto model_;
};

}  // namespace dagrad::onnx::testing
