// Whole-file writes that never leave a half-written file behind: readers see either the
// old file or the complete new one. Used by the IDX writer and by checkpoints.
#pragma once
#include <cstddef>
#include <filesystem>
#include <span>

namespace dagrad {

// Writes `pieces`, one after another, to `path`: the bytes go to `<path>.tmp` in the same
// directory (so the rename cannot cross file systems), are flushed to the disk with fsync,
// and the temp file is renamed over `path`; the directory is then synced so the rename
// survives a crash. On any failure the temp file is removed, an existing `path` is left
// untouched, and an IoError names the path and the system's reason (strerror).
void write_file_atomic(const std::filesystem::path& path,
                       std::span<const std::span<const std::byte>> pieces);

}  // namespace dagrad
