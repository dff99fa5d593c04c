// BufferPool: recycled tensor buffers (see buffer_pool.h for why, and for the rule of how much it keeps).
#include "buffer_pool.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// Buffers of 2 MiB or more are mapped from the kernel on Linux. Not under AddressSanitizer (make
// sanitize), which watches the C library's blocks (reads past a buffer's end, uses after free) and not
// mappings, and not elsewhere (macOS has no 2 MiB-page advice): there every buffer is the C library's.
#if defined(__linux__) && defined(MADV_HUGEPAGE) && !defined(__SANITIZE_ADDRESS__)
constexpr bool kMapsBigBuffers = true;
#else
constexpr bool kMapsBigBuffers = false;
#endif

bool is_mapped(size_t bytes) { return kMapsBigBuffers && bytes >= BufferPool::kHugePageBytes; }

// The length of the mapping that holds a buffer of `bytes`: whole 4 KiB pages.
constexpr size_t kPage = 4096;
[[maybe_unused]] size_t mapped_length(size_t bytes) { return (bytes + kPage - 1) / kPage * kPage; }

// A fresh buffer of `bytes` (a multiple of the alignment).
//   Mapped: the kernel places a mapping on any 4 KiB page, but only the 2 MiB-aligned stretches of it can
//   become 2 MiB pages. So map 2 MiB more than needed, keep the part that starts on a 2 MiB boundary and
//   unmap the rest: every whole 2 MiB of the buffer can then be one page. Measured on the tiny ViT, in
//   `perf stat -e page-faults build/patchgrad bench --steps 12 --warmup 3` with the pool's line at no
//   slack: 111k to 116k page faults with the mappings where the kernel put them, 11k aligned
//   (docs/performance.md).
//   The C library's: a large one is still advised for 2 MiB pages, where its whole pages allow.
void* fresh_buffer(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (is_mapped(bytes)) {
        const size_t length = mapped_length(bytes), align = BufferPool::kHugePageBytes;
        void* mapping = mmap(nullptr, length + align, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mapping == MAP_FAILED) throw std::bad_alloc();
        char* const start = static_cast<char*>(mapping);
        char* const aligned = reinterpret_cast<char*>((reinterpret_cast<uintptr_t>(start) + align - 1) / align * align);
        const size_t head = size_t(aligned - start), tail = align - head;  // the unused ends: head + tail = align
        if (head > 0) munmap(start, head);
        munmap(aligned + length, tail);
        madvise(aligned, length, MADV_HUGEPAGE);
        return aligned;
    }
#endif
    void* buffer = std::aligned_alloc(BufferPool::kAlignment, bytes);
    if (!buffer) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= BufferPool::kHugePageBytes) {
        const uintptr_t first = (reinterpret_cast<uintptr_t>(buffer) + kPage - 1) / kPage * kPage;
        const uintptr_t end = (reinterpret_cast<uintptr_t>(buffer) + bytes) / kPage * kPage;
        madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
    }
#endif
    return buffer;
}

// Gives a buffer from fresh_buffer(bytes) back: a mapping to the kernel, any other to the C library.
void give_back(void* buffer, size_t bytes) {
#if defined(__linux__)
    if (is_mapped(bytes)) {
        munmap(buffer, mapped_length(bytes));
        return;
    }
#endif
    std::free(buffer);
}

// Cuts a mapped buffer of `bytes` down to `keep` bytes (keep <= bytes): its pages past `keep` go back to
// the kernel.
void unmap_tail(char* buffer, size_t bytes, size_t keep) {
#if defined(__linux__)
    const size_t had = mapped_length(bytes), kept = mapped_length(keep);
    if (had > kept) munmap(buffer + kept, had - kept);
#else
    (void)buffer, (void)bytes, (void)keep;  // nothing is mapped here (is_mapped is always false)
#endif
}

}  // namespace

BufferPool::~BufferPool() { clear(); }

void* BufferPool::allocate(size_t bytes) {
    if (bytes > SIZE_MAX / 2) throw std::bad_alloc();  // no machine has it; and rounding up must not wrap
    bytes = rounded(bytes);
    if (bytes < kMinPooledBytes) return fresh_buffer(bytes);

    std::lock_guard<std::mutex> lock(mutex_);
    stats_.live_bytes += bytes;
    stats_.peak_live_bytes = std::max(stats_.peak_live_bytes, stats_.live_bytes);
    auto list = free_.find(bytes);
    if (list != free_.end() && !list->second.empty()) {
        void* buffer = list->second.back();  // the newest: the likeliest to be still in the cache
        list->second.pop_back();
        stats_.free_bytes -= bytes;
        ++stats_.reused;
        return buffer;
    }
    // A miss. A mapped size is met, when it can be, from the pages of a larger free buffer (no new page
    // to zero); otherwise room is made under the line (buffer_pool.h), largest free buffers first, for a
    // fresh buffer.
    if (void* buffer = cut_down_largest(bytes)) return buffer;
    while (stats_.free_bytes > 0 && stats_.live_bytes + stats_.free_bytes > stats_.peak_live_bytes + slack_)
        evict_largest();
    try {
        void* buffer = fresh_buffer(bytes);
        ++stats_.fresh;
        return buffer;
    } catch (const std::bad_alloc&) {
        stats_.live_bytes -= bytes;  // nothing was handed out
        throw;
    }
}

void BufferPool::release(void* buffer, size_t bytes) {
    if (!buffer) return;
    bytes = rounded(bytes);
    if (bytes >= kMinPooledBytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        stats_.live_bytes -= bytes;
        if (keep_ == Keep::free_buffers) {  // live + free is unchanged: the line still holds
            free_[bytes].push_back(buffer);
            stats_.free_bytes += bytes;
            return;
        }
    }
    give_back(buffer, bytes);
}

BufferPool::FreeList BufferPool::largest_free_list() {
    // The lists are few (one per size, a few dozen in a training step), so a scan will do.
    FreeList largest;
    for (auto& [bytes, buffers] : free_)
        if (!buffers.empty() && bytes > largest.bytes) largest = {&buffers, bytes};
    return largest;
}

void* BufferPool::cut_down_largest(size_t bytes) {
    if (!is_mapped(bytes)) return nullptr;
    const FreeList largest = largest_free_list();
    if (largest.bytes < bytes) return nullptr;  // none large enough (or the lists are empty)
    // The largest is a mapping too (it is at least `bytes`). Keep its first pages, hand back the rest to
    // the kernel: live + free falls by largest.bytes - bytes, so the line holds.
    char* const buffer = static_cast<char*>(largest.buffers->front());
    largest.buffers->pop_front();
    stats_.free_bytes -= largest.bytes;
    unmap_tail(buffer, largest.bytes, bytes);
    ++stats_.cut_down;
    return buffer;
}

void BufferPool::evict_largest() {
    const FreeList largest = largest_free_list();
    give_back(largest.buffers->front(), largest.bytes);
    largest.buffers->pop_front();
    stats_.free_bytes -= largest.bytes;
    ++stats_.evicted;
}

void BufferPool::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, buffers] : free_)
        for (void* buffer : buffers) give_back(buffer, bytes);
    free_.clear();
    stats_.free_bytes = 0;
    stats_.peak_live_bytes = stats_.live_bytes;
}

BufferPool::Stats BufferPool::stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
}

BufferPool& storage_pool() {
    // Deliberately never destroyed: a tensor in a static object may be freed after main returns, and its
    // buffer must still have a pool to go back to. The operating system reclaims the memory at exit.
    // Under AddressSanitizer (make sanitize) the pool keeps nothing: every freed buffer goes back to the
    // C library at once, so the sanitizer still catches a read of a tensor's numbers after they died.
#if defined(__SANITIZE_ADDRESS__)
    static BufferPool* pool = new BufferPool(BufferPool::Keep::nothing);
#else
    static BufferPool* pool = new BufferPool();
#endif
    return *pool;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
