// Pieces of a kernel's output 0 handed to its epilogue instead of written
// (Epilogue::consumes_pieces): the kernel puts a finished piece in a buffer of its thread,
// hands it over (hand_piece) and calls the epilogue's run() for the piece's range on the
// same thread; the consumer takes it (take_handed_piece), so a piece is read once and a
// run() with nothing handed reads output 0 itself.
#pragma once
#include <cstdint>
#include <utility>

#include "ops/op_def.h"
#include "runtime/thread_buffer.h"

namespace dagrad {

// A piece of planes whose rows lie row_stride elements apart and planes plane_stride
// apart (only for an epilogue that takes_padded_rows); row_stride 0: contiguous.
struct HandedPiece {
  const void* data = nullptr;
  int64_t row_stride = 0, plane_stride = 0;
};

namespace epilogue_piece_detail {
inline HandedPiece& slot() {
  thread_local HandedPiece piece;
  return piece;
}
}  // namespace epilogue_piece_detail

inline void hand_piece(const HandedPiece& piece) { epilogue_piece_detail::slot() = piece; }
// The piece handed on this thread since the last take (data null: none).
inline HandedPiece take_handed_piece() { return std::exchange(epilogue_piece_detail::slot(), HandedPiece{}); }

inline constexpr int kEpiloguePieceTag = 40;  // the scratch's thread_buffer tag

// Where a kernel writes a piece of `len` elements whose place in output 0 is `at`: there,
// or, for an epilogue that consumes pieces, in the thread's scratch, handed over.
template <class T>
T* piece_destination(const Epilogue* epilogue, T* at, int64_t len) {
  if (!epilogue || !epilogue->consumes_pieces) return at;
  T* scratch = thread_buffer<T, kEpiloguePieceTag>(static_cast<size_t>(len));
  hand_piece({scratch, 0, 0});
  return scratch;
}

// The same for image n of a kernel that writes its output image by image.
template <class T>
T* image_destination(const Epilogue* epilogue, T* y, int64_t n, int64_t per_image) {
  return piece_destination(epilogue, y + n * per_image, per_image);
}

}  // namespace dagrad
