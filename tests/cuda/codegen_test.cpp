// The elementwise-kernel generator and NVRTC, without a GPU: every elementwise op alone
// and every fused group that the training plans produce becomes CUDA C that NVRTC
// compiles to PTX for compute_80 and compute_90. A generator bug fails here, not on a
// user's GPU.
#include <gtest/gtest.h>

#include <sstream>

#include "frontend/trainer.h"
#include "models/models.h"
#include "ops/cuda/elementwise_codegen.h"
#include "ops/cuda/elementwise_source.h"
#include "ops/registry.h"
#include "op_cases.h"
#include "random_graph.h"
#include "runtime/cuda/nvrtc_compiler.h"
#include "runtime/error.h"
#include "scheduler/compile.h"
#include "scheduler/session.h"

using namespace dagrad;

namespace {

const char* const kArchs[] = {"compute_80", "compute_90"};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// Generates `p`'s kernel and compiles it for every architecture.
void compile_program(const ElementwiseProgram& p, const std::string& what) {
  const std::string src = cuda::elementwise_source(p);
  for (const char* arch : kArchs) {
    SCOPED_TRACE(str_cat(what, " for ", arch));
    try {
      cuda::NvrtcResult r = cuda::nvrtc_compile(src, arch, what + ".cu");
      EXPECT_FALSE(r.cubin);
      EXPECT_TRUE(contains(r.image, str_cat(".entry ", cuda::kElementwiseKernelName))) << r.image.substr(0, 400);
      EXPECT_TRUE(contains(r.image, str_cat(".target sm_", std::string(arch).substr(8))));
    } catch (const DeviceError& e) {
      ADD_FAILURE() << e.what() << "\n---- source ----\n" << src;
    }
  }
}

// Generates and compiles every fused group of `plan`; returns how many there were.
int compile_groups(const scheduler::ExecutionPlan& plan) {
  for (const scheduler::FusedGroup& grp : plan.groups)
    compile_program(grp.program(*plan.graph), str_cat("group", grp.id));
  return static_cast<int>(plan.groups.size());
}

scheduler::ExecutionPlan training_plan(const std::string& model, const scheduler::CompileOptions& opt,
                                       std::unique_ptr<Trainer>& keep) {
  TrainConfig cfg;
  cfg.model_name = model;
  cfg.batch_size = 64;
  cfg.compile = opt;
  cfg.progress = false;
  static std::ostringstream log;
  keep = std::make_unique<Trainer>(models::make_model(model), cfg, log);
  TensorMap in{{"images", Tensor::zeros(Shape{64, 1, 28, 28})},
               {"labels", Tensor::zeros(Shape{64}, DType::i64)},
               {"lr", Tensor::full(Shape{}, 0.01)}};
  return keep->train_session().executor_for(in).plan();
}

}  // namespace

TEST(CudaCodegen, PreludeIsElementwiseMathVerbatim) {
  const std::string_view src = cuda::elementwise_math_source();
  EXPECT_TRUE(contains(std::string(src), "struct GeluBackward"));
  EXPECT_TRUE(contains(std::string(src), "namespace dagrad"));
}

// Every functor any elementwise op names, in both precisions, called as generated code
// calls it: dagrad::<Functor><T>{params...}(args...).
TEST(CudaCodegen, EveryElementwiseFunctorCompilesWithNvrtc) {
  std::ostringstream os;
  os << cuda::hostdev_source() << "\n" << cuda::elementwise_math_source() << "\n";
  int k = 0;
  for (const OpDef* d : OpRegistry::instance().all()) {
    if (!d->elementwise) continue;
    const ElementwiseDef& ew = *d->elementwise;
    const int nparams = ew.num_params;
    for (const char* t : {"float", "double"}) {
      os << "extern \"C\" __global__ void k" << k++ << "(const " << t << "* a, const " << t << "* b, " << t
         << "* o) { o[threadIdx.x] = dagrad::" << ew.functor << "<" << t << ">{";
      for (int i = 0; i < nparams; ++i) os << (i ? ", " : "") << "static_cast<" << t << ">(0.5)";
      os << "}(a[threadIdx.x]" << (ew.arity == 2 ? ", b[threadIdx.x]" : "") << "); }\n";
    }
  }
  ASSERT_GT(k, 30);
  for (const char* arch : kArchs) EXPECT_NO_THROW(cuda::nvrtc_compile(os.str(), arch, "functors.cu")) << arch;
}

// Every elementwise op alone, as the CUDA backend runs it when it is not fused: the
// program of one node for each reference case's inputs (shapes, broadcasts, dtypes).
TEST(CudaCodegen, EveryElementwiseOpCompilesAlone) {
  int programs = 0;
  for (const auto& [d, cases] : dagrad::testing::elementwise_op_cases())
    for (size_t k = 0; k < cases.size() && k < 3; ++k) {
      const dagrad::testing::OpGraph og = dagrad::testing::op_graph(*d, cases[k]);
      compile_program(ElementwiseProgram::from_node(og.op_node()), str_cat(d->name, "_", k));
      ++programs;
    }
  EXPECT_GE(programs, 24);
}

TEST(CudaCodegen, MnistCnnTrainingGroupsCompile) {
  for (bool epilogues : {true, false}) {
    SCOPED_TRACE(str_cat("fuse_epilogues=", epilogues));
    scheduler::CompileOptions opt;
    opt.fuse_epilogues = epilogues;
    std::unique_ptr<Trainer> keep;
    const scheduler::ExecutionPlan plan = training_plan("mnist-cnn", opt, keep);
    EXPECT_GE(compile_groups(plan), 1) << plan.to_table();
  }
}

// Mixed precision: groups that read and write bfloat16 next to float32 (casts folded into
// epilogues and gradient groups).
TEST(CudaCodegen, MixedPrecisionTrainingGroupsCompile) {
  scheduler::CompileOptions opt;
  opt.precision = DType::bf16;
  std::unique_ptr<Trainer> keep;
  const scheduler::ExecutionPlan plan = training_plan("mnist-cnn", opt, keep);
  int with_half = 0;
  for (const scheduler::FusedGroup& grp : plan.groups) {
    const ElementwiseProgram p = grp.program(*plan.graph);
    const std::string src = cuda::elementwise_source(p);
    for (const ElementwiseProgram::Instr& ins : p.instrs)
      if (ins.dtype == DType::bf16) {
        ++with_half;
        EXPECT_TRUE(contains(src, "dagrad::float_to_bf16_bits(")) << src;
        break;
      }
  }
  EXPECT_GE(with_half, 3) << plan.to_table();
  EXPECT_GE(compile_groups(plan), 4);
}

TEST(CudaCodegen, OtherModelsTrainingGroupsCompile) {
  for (const std::string& model : models::model_names()) {
    SCOPED_TRACE(model);
    std::unique_ptr<Trainer> keep;
    EXPECT_GE(compile_groups(training_plan(model, scheduler::CompileOptions{}, keep)), 1);
  }
}

// Random graphs exercise broadcast inputs, scalars, several outputs and float64.
TEST(CudaCodegen, RandomGraphGroupsCompile) {
  int groups = 0;
  for (uint64_t seed = 0; seed < 24; ++seed) {
    const DType dtype = seed % 3 == 2 ? DType::f64 : DType::f32;
    scheduler::testing::RandomGraph rg = scheduler::testing::make_random_graph(seed, dtype);
    groups += compile_groups(scheduler::compile(*rg.graph, rg.outputs, scheduler::CompileOptions{}));
  }
  EXPECT_GE(groups, 24);
}

TEST(CudaCodegen, SourceBakesShapesAndParameters) {
  Graph g;
  Value x = g.input("x", Shape{4, 3});
  Value b = g.input("b", Shape{3});
  Value y = leaky_relu(x + b, 0.25) * 2.0;
  const scheduler::ExecutionPlan plan = scheduler::compile(g, {y});
  ASSERT_EQ(plan.groups.size(), 1u);
  const std::string src = cuda::elementwise_source(plan.groups[0].program(*plan.graph));
  EXPECT_TRUE(contains(src, "const idx_t n = 12;")) << src;
  EXPECT_TRUE(contains(src, "dagrad::LeakyRelu<T>{static_cast<T>(0x1p-2)}")) << src;
  EXPECT_TRUE(contains(src, "dagrad::Add<T>{}")) << src;
  EXPECT_TRUE(contains(src, "typedef float T;")) << src;
  EXPECT_NO_THROW(cuda::nvrtc_compile(src, "compute_80"));
}

TEST(CudaCodegen, CompileErrorsCarryTheLog) {
  try {
    cuda::nvrtc_compile("extern \"C\" __global__ void k() { undefined_thing(); }", "compute_80", "broken.cu");
    FAIL() << "expected DeviceError";
  } catch (const DeviceError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(contains(msg, "NVRTC could not compile broken.cu for compute_80")) << msg;
    EXPECT_TRUE(contains(msg, "undefined_thing")) << msg;
  }
  EXPECT_THROW(cuda::nvrtc_compile("", "compute_1"), DeviceError);
}

TEST(CudaCodegen, ArchitectureForADevice) {
  EXPECT_EQ(cuda::nvrtc_arch_for(8, 0), "sm_80");
  EXPECT_EQ(cuda::nvrtc_arch_for(9, 0), "sm_90");
  // Newer than this NVRTC knows: PTX for the newest it knows, JIT-compiled by the driver.
  EXPECT_TRUE(cuda::nvrtc_arch_for(99, 0).starts_with("compute_"));
  EXPECT_THROW(cuda::nvrtc_arch_for(1, 0), DeviceError);
  // sm_90 gives a CUBIN.
  cuda::NvrtcResult r = cuda::nvrtc_compile("extern \"C\" __global__ void k(float* p) { p[0] = 1; }", "sm_90");
  EXPECT_TRUE(r.cubin);
  EXPECT_FALSE(r.image.empty());
}

TEST(CudaCodegen, SourceHashIsStable) {
  EXPECT_EQ(cuda::source_hash(""), 0xcbf29ce484222325ull);
  EXPECT_NE(cuda::source_hash("a"), cuda::source_hash("b"));
}
