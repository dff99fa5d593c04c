#pragma once
// BufferPool: tensor buffers, recycled.                                    docs/tensor.md, "Where the
//                                                                           numbers live" tells the story.
//
// A training step allocates the same few hundred buffers in the same sizes every time: the activations
// of the forward, the gradients of the backward. A buffer that comes fresh from the kernel arrives as
// untouched pages, and the first write to each page is a page fault that zeroes it: on a virtual machine
// a costly trip, and up to a tenth of a training step when every step's buffers came fresh.
//
// So Storage (core/tensor.h) takes its buffers from here and gives them back here. A freed buffer waits
// in a list for its exact byte size; the next request of that size gets it back, already mapped and
// warm in the cache. Small buffers (under kMinPooledBytes) go straight to the C library, which is fast
// for them.
//
// How much the pool may keep. A free buffer still counts in the process's memory, so the pool keeps
// free buffers only while
//
//     live bytes + free bytes  <=  peak live bytes + slack
//
// live: the bytes of pooled sizes now handed out; peak live: the most that were ever handed out at
// once, which the program needed anyway. A request the lists cannot meet (a miss) first gives back free
// buffers, largest first, until the fresh buffer fits under that line. The slack lets the sizes asked
// for near a step's peak differ a little from those the lists hold without a buffer given back and
// mapped again every step (the tiny ViT needs 33 to 40 MiB of it). Largest first, because that rule
// measured the least memory mapped afresh per step for the tiny Swin, whose forward and backward ask
// for more sizes than fit under the line: 108 MB a step, against 166 MB giving back the buffers released
// longest ago and 145 MB smallest first (docs/performance.md).
//
// A buffer of 2 MiB or more is mapped from the kernel directly (mmap), aligned to 2 MiB and advised for
// 2 MiB pages, and given back with munmap: its memory really goes back to the kernel when the pool lets
// it go (memory freed to the C library stays in its heap, fragmented), and its pages fault in 2 MiB at
// a time, one fault where there would be 512. And a miss of such a size, when the largest free buffer is
// at least as large, is met by cutting that buffer down (its tail unmapped): its pages are already
// there, so the kernel zeroes nothing. For the tiny Swin, whose steps ask for more sizes than fit under
// the line, that took the kernel's page zeroing from 8.7% to 2.0% of a training step (`perf`).
//
// Thread-safe: a mutex guards the lists (buffers are allocated outside parallel loops, so the mutex is
// never contended in practice).
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class BufferPool {
public:
    static constexpr size_t kAlignment = 64;              // bytes: an AVX-512 register, a cache line
    static constexpr size_t kMinPooledBytes = 64 * 1024;  // smaller buffers bypass the pool
    static constexpr size_t kHugePageBytes = 2 << 20;     // buffers this large are mapped, 2 MiB pages
    static constexpr size_t kDefaultSlack = size_t(40) << 20;  // free bytes allowed beyond the peak

    enum class Keep { free_buffers, nothing };  // nothing: every release gives the buffer back at once

    explicit BufferPool(Keep keep = Keep::free_buffers, size_t slack = kDefaultSlack)
        : keep_(keep), slack_(slack) {}
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // A 64-byte aligned buffer of at least `bytes` bytes (rounded up to a multiple of 64; 0 counts as 64).
    // Its contents are whatever its last user left. Throws std::bad_alloc when memory is exhausted.
    void* allocate(size_t bytes);
    // Gives back a buffer from allocate(bytes), with the same `bytes`.
    void release(void* buffer, size_t bytes);
    // Gives every buffer waiting in the lists back, and starts the peak afresh from what is live now.
    void clear();

    struct Stats {                   // pooled sizes only (kMinPooledBytes and up)
        size_t free_bytes = 0;       // bytes waiting in the lists
        size_t live_bytes = 0;       // bytes handed out and not yet released
        size_t peak_live_bytes = 0;  // the most live_bytes has been (since the last clear)
        size_t reused = 0;           // requests met from the lists
        size_t fresh = 0;            // requests met with a fresh buffer
        size_t cut_down = 0;         // requests met by cutting a larger free buffer down (mapped sizes)
        size_t evicted = 0;          // free buffers given back to make room for a fresh one
    };
    Stats stats() const;

    static size_t rounded(size_t bytes) { return ((bytes == 0 ? 1 : bytes) + kAlignment - 1) / kAlignment * kAlignment; }

private:
    struct FreeList {
        std::deque<void*>* buffers = nullptr;
        size_t bytes = 0;
    };
    // The non-empty list of the largest size, or {null, 0} when every list is empty.
    FreeList largest_free_list();
    // Gives back one free buffer of the largest size the lists hold, the one released longest ago (the
    // lists must not be empty).
    void evict_largest();
    // For a miss of a mapped size: when the largest free buffer is at least `bytes`, cuts it down to
    // `bytes` (its tail unmapped) and returns it; otherwise null.
    void* cut_down_largest(size_t bytes);

    mutable std::mutex mutex_;
    // rounded byte size -> its free buffers, oldest release at the front, newest at the back
    std::unordered_map<size_t, std::deque<void*>> free_;
    Keep keep_;
    size_t slack_;
    Stats stats_;
};

// The pool every Storage uses: one per flavour (float32, float64), created on first use, never destroyed
// before the tensors that hold its buffers (it lives until exit).
BufferPool& storage_pool();

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
