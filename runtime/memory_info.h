// What the system can still give: for out-of-memory messages that say how far off a
// request was.
#pragma once
#include <cstddef>
#include <optional>
#include <string>

namespace dagrad {

// MemAvailable of /proc/meminfo in bytes (what the kernel estimates a new allocation
// can get without swapping); nullopt where that file is missing or unreadable.
std::optional<size_t> system_available_bytes();

// "1.50 GiB (1610612736 bytes)": a size both readable and exact.
std::string describe_bytes(size_t bytes);

}  // namespace dagrad
