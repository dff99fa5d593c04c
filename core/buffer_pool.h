#pragma once
// BufferPool: tensor buffers, recycled.                                    docs/tensor.md, "Where the
//                                                                           numbers live" tells the story.
//
// A training step allocates the same few hundred buffers in the same sizes every time: the activations
// of the forward, the gradients of the backward. Asking the C library for each afresh can cost more than
// the call: a large block (above glibc's mmap threshold, ~128 KiB to 32 MiB) may come straight from the
// kernel as untouched pages, and the first write to each 4 KiB page is a page fault that zeroes it.
// (glibc raises that threshold after a few frees, so in a training loop's steady state the pool measured
// no faster than malloc, docs/performance.md; what it guarantees is that the steady state does no
// allocator work at all.)
//
// So Storage (core/tensor.h) takes its buffers from here and gives them back here. A freed buffer waits
// in a list for its exact byte size; the next request of that size gets it back, already mapped and
// warm in the cache. A training loop reaches a steady state after its first step: every request is met
// from the lists and the process allocates nothing more. Small buffers (under kMinPooledBytes) go
// straight to the C library, which is fast for them.
//
// The pool keeps at most `limit` bytes of free buffers (a buffer freed beyond that goes back to the C
// library), so memory freed for good, say after an evaluation with a different batch size, is not held
// forever. Thread-safe: a mutex guards the lists (buffers are allocated outside parallel loops, so the
// mutex is never contended in practice).
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class BufferPool {
public:
    static constexpr size_t kAlignment = 64;              // bytes: an AVX-512 register, a cache line
    static constexpr size_t kMinPooledBytes = 64 * 1024;  // smaller buffers bypass the pool
    static constexpr size_t kHugePageBytes = 2 << 20;     // fresh buffers this large ask for 2 MiB pages
    // 64 MiB of free buffers at most. Free buffers count in the peak memory: with no cap, the Swin's
    // training step peaked at 656 MB, with 64 MiB at 605 MB, with no pool at 587 MB, at the same speed
    // (docs/performance.md, "The second round").
    static constexpr size_t kDefaultLimit = size_t(64) << 20;

    explicit BufferPool(size_t limit = kDefaultLimit) : limit_(limit) {}
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A 64-byte aligned buffer of at least `bytes` bytes (rounded up to a multiple of 64; 0 counts as 64).
    // Its contents are whatever its last user left. Throws std::bad_alloc when memory is exhausted.
    void* allocate(size_t bytes);
    // Gives back a buffer from allocate(bytes), with the same `bytes`.
    void release(void* buffer, size_t bytes);
    // Frees every buffer waiting in the lists.
    void clear();

    struct Stats {
        size_t free_bytes = 0;  // bytes waiting in the lists
        size_t reused = 0;      // requests met from the lists
        size_t fresh = 0;       // requests that went to the C library (pooled sizes only)
    };
    Stats stats() const;

    static size_t rounded(size_t bytes) { return ((bytes == 0 ? 1 : bytes) + kAlignment - 1) / kAlignment * kAlignment; }

private:
    mutable std::mutex mutex_;
    std::unordered_map<size_t, std::vector<void*>> free_;  // rounded byte size -> buffers of that size
    size_t limit_;
    Stats stats_;
};

// The pool every Storage uses: one per flavour (float32, float64), created on first use, never destroyed
// before the tensors that hold its buffers (it lives until exit).
BufferPool& storage_pool();

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
