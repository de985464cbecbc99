// The CPU launcher of elementwise programs (one op, or a fused group): the output range
// is cut into tiles of kTile elements; per tile, broadcast inputs are gathered into small
// buffers, full-shape inputs in the compute type are read in place (16-bit ones are
// widened into a buffer), and every member's tile function runs on cache-resident tiles,
// each result rounded to its dtype when that is a 16-bit float. Only materialised outputs
// touch memory. Tiles are independent and every element is computed by the same functions
// in the same order, so the result does not depend on the thread count and equals the
// unfused evaluation.
#include "ops/cpu/elementwise_program.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "ops/cpu/cast.h"
#include "ops/cpu/epilogue_piece.h"
#include "runtime/convert.h"
#include "runtime/error.h"
#include "runtime/thread_buffer.h"
#include "runtime/thread_pool.h"

namespace dagrad {

namespace {

using Input = ElementwiseProgram::Input;

// Elements per tile: every register of a tile stays in L1.
constexpr int64_t kTile = 512;

// dst[0, len) = the input's elements for output positions [base, base + len), converted
// from S to T.
template <class S, class T>
void gather(const Input& in, const S* src, int64_t base, int64_t len, T* dst) {
  const int r = static_cast<int>(in.dims.size());
  int64_t idx[16];
  DAGRAD_ASSERT(r > 0 && r <= 16);
  int64_t rem = base, off = 0;
  for (int d = r - 1; d >= 0; --d) {
    idx[d] = rem % in.dims[d];
    rem /= in.dims[d];
    off += idx[d] * in.strides[d];
  }
  const int64_t inner = in.dims[r - 1], inner_stride = in.strides[r - 1];
  for (int64_t pos = 0; pos < len;) {
    int64_t seg = std::min(inner - idx[r - 1], len - pos);
    if (inner_stride == 0) {
      std::fill(dst + pos, dst + pos + seg, convert<T>(src[off]));
    } else if constexpr (std::is_same_v<S, T>) {
      std::memcpy(dst + pos, src + off, static_cast<size_t>(seg) * sizeof(T));
    } else {
      for (int64_t k = 0; k < seg; ++k) dst[pos + k] = convert<T>(src[off + k]);
    }
    pos += seg;
    idx[r - 1] += seg;
    off += seg * inner_stride;
    if (idx[r - 1] < inner) continue;
    off -= inner * inner_stride;
    idx[r - 1] = 0;
    for (int d = r - 2; d >= 0; --d) {
      off += in.strides[d];
      if (++idx[d] < in.dims[d]) break;
      off -= in.dims[d] * in.strides[d];
      idx[d] = 0;
    }
  }
}

// x[0, n) rounded to `dtype` (a 16-bit float) and back: what storing and reloading gives.
void round_to(float* x, int64_t n, DType dtype) {
  if (dtype == DType::bf16) {
    for (int64_t i = 0; i < n; ++i) x[i] = bf16_bits_to_float(float_to_bf16_bits(x[i]));
  } else {
    for (int64_t i = 0; i < n; ++i) x[i] = f16_bits_to_float(float_to_f16_bits(x[i]));
  }
}

bool overlaps(const Tensor& a, const Tensor& b) {
  auto pa = static_cast<const char*>(a.raw_data()), pb = static_cast<const char*>(b.raw_data());
  return pa < pb + b.nbytes() && pb < pa + a.nbytes();
}

// Elements [begin, end), split over the pool (parallel) or on the calling thread. Input
// `handed` (>= 0) is read from `handed_piece`, which holds its elements [begin, end).
template <class T>
void run_typed(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs, int64_t begin,
               int64_t end, bool parallel, int handed = -1, const void* handed_piece = nullptr) {
  const int ni = static_cast<int>(p.inputs.size()), nr = static_cast<int>(p.instrs.size());
  const int no = static_cast<int>(outputs.size());
  constexpr DType kCompute = dtype_of<T>();
  // The launcher's tables live in the calling thread's buffers (the pieces below only
  // read them); every piece has its own registers in its own thread's buffers.
  const char** in_ptr = thread_buffer<const char*, 0>(ni);
  for (int i = 0; i < ni; ++i) in_ptr[i] = static_cast<const char*>(i == handed ? handed_piece : inputs[i].raw_data());
  // out_of[r]: the output register r is stored to. A result is computed straight into its
  // output when that output is stored in the compute type and shares no bytes with an
  // input still to be read in this tile.
  int* out_of = thread_buffer<int, 0>(nr);
  std::fill(out_of, out_of + nr, -1);
  char* direct = thread_buffer<char, 0>(no);
  std::fill(direct, direct + no, 1);
  char** out_ptr = thread_buffer<char*, 0>(no);
  // stored_over[i]: an output shares bytes with input i (in place), so input i is
  // overwritten as each tile is stored and a cast of it is copied rather than passed
  // through. The handed input is read from its piece, not from its tensor.
  char* stored_over = thread_buffer<char, 2>(ni);
  std::fill(stored_over, stored_over + ni, 0);
  for (int j = 0; j < no; ++j) {
    out_ptr[j] = static_cast<char*>(outputs[j].raw_data());
    direct[j] = outputs[j].dtype() == kCompute;
    for (int i = 0; i < ni; ++i) {
      if (!overlaps(outputs[j], inputs[i])) continue;
      direct[j] = 0;
      if (i != handed) stored_over[i] = 1;
    }
    out_of[p.outputs[j]] = j;
  }
  // A 16-bit result is rounded in place only where a later member reads it: an output
  // stored in its dtype is rounded by the conversion that stores it (rounding is idempotent).
  char* round_in_place = thread_buffer<char, 1>(nr);
  std::fill(round_in_place, round_in_place + nr, 0);
  for (const ElementwiseProgram::Instr& ins : p.instrs)
    for (int a : ins.args)
      if (a >= ni) round_in_place[a - ni] = 1;
  for (int j = 0; j < no; ++j)
    if (outputs[j].dtype() != p.instrs[p.outputs[j]].dtype) round_in_place[p.outputs[j]] = 1;
  double* scalar = thread_buffer<double, 0>(ni);
  std::fill(scalar, scalar + ni, 0.0);
  for (int i = 0; i < ni; ++i)
    if (p.inputs[i].mode == Input::Mode::scalar)
      scalar[i] = dispatch_float(p.inputs[i].dtype, "elementwise",
                                 [&]<class S>() { return convert<double>(*reinterpret_cast<const S*>(in_ptr[i])); });

  const int64_t tiles = (end - begin + kTile - 1) / kTile;
  auto piece = [&](int64_t t0, int64_t t1) {
    // Registers and gather buffers for this piece; scalars are filled once.
    T* scratch = thread_buffer<T, 1>(static_cast<size_t>(nr + ni) * kTile);
    auto reg = [&](int r) { return scratch + static_cast<size_t>(r) * kTile; };
    auto gbuf = [&](int i) { return scratch + static_cast<size_t>(nr + i) * kTile; };
    for (int i = 0; i < ni; ++i)
      if (p.inputs[i].mode == Input::Mode::scalar) std::fill(gbuf(i), gbuf(i) + kTile, static_cast<T>(scalar[i]));
    const T** operand = thread_buffer<const T*, 1>(ni + nr);
    size_t max_args = 0;
    for (const ElementwiseProgram::Instr& ins : p.instrs) max_args = std::max(max_args, ins.args.size());
    const T** args = thread_buffer<const T*, 2>(max_args);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t base = begin + t * kTile, len = std::min(kTile, end - base);
      for (int i = 0; i < ni; ++i) {
        const Input& in = p.inputs[i];
        switch (in.mode) {
          case Input::Mode::full: {
            const int64_t at = i == handed ? base - begin : base;
            if (in.dtype == kCompute) {
              operand[i] = reinterpret_cast<const T*>(in_ptr[i]) + at;
            } else {
              convert_elements(in_ptr[i] + at * static_cast<int64_t>(dtype_size(in.dtype)), in.dtype, gbuf(i), kCompute,
                               len);
              operand[i] = gbuf(i);
            }
            break;
          }
          case Input::Mode::scalar:
            operand[i] = gbuf(i);
            break;
          case Input::Mode::broadcast:
            dispatch_float(in.dtype, "elementwise", [&]<class S>() {
              gather(in, reinterpret_cast<const S*>(in_ptr[i]), base, len, gbuf(i));
            });
            operand[i] = gbuf(i);
            break;
        }
      }
      for (int r = 0; r < nr; ++r) {
        const ElementwiseProgram::Instr& ins = p.instrs[r];
        int j = out_of[r];
        const bool to_output = j >= 0 && direct[j];
        const bool rounds = ins.dtype != kCompute && round_in_place[r];
        if (ins.def->identity && !to_output && !rounds && (ins.args[0] >= ni || !stored_over[ins.args[0]])) {
          operand[ni + r] = operand[ins.args[0]];  // a cast whose rounding, if any, is the store's
          continue;
        }
        T* dst = to_output ? reinterpret_cast<T*>(out_ptr[j]) + base : reg(r);
        for (size_t a = 0; a < ins.args.size(); ++a) args[a] = operand[ins.args[a]];
        if constexpr (std::is_same_v<T, float>) {
          ins.def->tile_f32(args, dst, len, ins.params.data());
          if (rounds) round_to(dst, len, ins.dtype);
        } else {
          ins.def->tile_f64(args, dst, len, ins.params.data());
        }
        operand[ni + r] = dst;
      }
      for (int j = 0; j < no; ++j) {
        const T* res = operand[ni + p.outputs[j]];
        const DType out_t = outputs[j].dtype();
        if (out_t != kCompute) {  // exact: the result was rounded to out_t already
          convert_elements(res, kCompute, out_ptr[j] + base * static_cast<int64_t>(dtype_size(out_t)), out_t, len);
        } else if (res != reinterpret_cast<T*>(out_ptr[j]) + base) {
          std::memcpy(reinterpret_cast<T*>(out_ptr[j]) + base, res, static_cast<size_t>(len) * sizeof(T));
        }
      }
    }
  };
  if (parallel)
    parallel_for(0, tiles, 8, piece);
  else
    piece(0, tiles);
}

}  // namespace

void run_program_cpu(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs, Stream*) {
  DAGRAD_ASSERT(inputs.size() == p.inputs.size() && outputs.size() == p.outputs.size());
  dispatch_floating(p.dtype, "elementwise",
                    [&]<class T>() { run_typed<T>(p, inputs, outputs, 0, p.shape.numel(), true); });
}

void run_program_range_cpu(const ElementwiseProgram& p, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                           int64_t begin, int64_t end, int handed_input) {
  DAGRAD_ASSERT(inputs.size() == p.inputs.size() && outputs.size() == p.outputs.size());
  DAGRAD_ASSERT(begin >= 0 && begin <= end && end <= p.shape.numel());
  const HandedPiece piece = handed_input >= 0 ? take_handed_piece() : HandedPiece{};
  DAGRAD_ASSERT(!piece.data || (p.inputs[handed_input].mode == Input::Mode::full && piece.row_stride == 0));
  if (begin == end) return;
  dispatch_floating(p.dtype, "elementwise", [&]<class T>() {
    run_typed<T>(p, inputs, outputs, begin, end, false, piece.data ? handed_input : -1, piece.data);
  });
}

}  // namespace dagrad
