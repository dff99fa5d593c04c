#pragma once
// When a loop is worth sharing among OpenMP threads: the one threshold every parallel loop of the library
// uses (core/ops/, optim/, datasets/).
#include <cstdint>

namespace patchgrad {

// Loops over more elements than this are shared among OpenMP threads; smaller ones stay on one thread,
// where starting threads would cost more than it saves. Every parallel loop writes disjoint memory.
constexpr int64_t kParallelElements = 32768;

}  // namespace patchgrad
