// BufferPool: recycled tensor buffers (see buffer_pool.h for why).
#include "buffer_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// A fresh buffer from the C library. A large one is also advised to the kernel for 2 MiB pages
// (transparent huge pages): a buffer the pool cannot keep (beyond its limit) goes back to the C library,
// which returns a large block to the kernel at once, so the next step's buffer of that size arrives as
// untouched pages again, and each first write to a page is a page fault. With 4 KiB pages that is 512
// faults a 2 MiB stretch, with huge pages one; a fault is a trip into the kernel, costly in a virtual
// machine. Measured on the tiny ViT's training step (2 threads, batch 128, 20 steps, three rounds
// alternately, docs/performance.md): 412 to 429 -> 475 to 507 img/s, 409k -> 123k page faults in the
// run, the same peak memory. Only the whole 2 MiB-aligned pages inside the buffer can become huge;
// madvise is a hint, and where the kernel has huge pages switched off it changes nothing.
void* fresh_buffer(size_t bytes) {
    void* buffer = std::aligned_alloc(BufferPool::kAlignment, bytes);  // bytes is a multiple of the alignment
    if (!buffer) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (bytes >= BufferPool::kHugePageBytes) {
        constexpr uintptr_t kPage = 4096;  // madvise takes whole pages of the smallest size
        const uintptr_t first = (reinterpret_cast<uintptr_t>(buffer) + kPage - 1) / kPage * kPage;
        const uintptr_t end = (reinterpret_cast<uintptr_t>(buffer) + bytes) / kPage * kPage;
        madvise(reinterpret_cast<void*>(first), end - first, MADV_HUGEPAGE);
    }
#endif
    return buffer;
}

}  // namespace

BufferPool::~BufferPool() { clear(); }

void* BufferPool::allocate(size_t bytes) {
    if (bytes > SIZE_MAX / 2) throw std::bad_alloc();  // no machine has it; and rounding up must not wrap
    bytes = rounded(bytes);
    if (bytes >= kMinPooledBytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        auto list = free_.find(bytes);
        if (list != free_.end() && !list->second.empty()) {
            void* buffer = list->second.back();
            list->second.pop_back();
            stats_.free_bytes -= bytes;
            ++stats_.reused;
            return buffer;
        }
        ++stats_.fresh;
    }
    return fresh_buffer(bytes);
}

void BufferPool::release(void* buffer, size_t bytes) {
    if (!buffer) return;
    bytes = rounded(bytes);
    if (bytes >= kMinPooledBytes) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (stats_.free_bytes + bytes <= limit_) {
            free_[bytes].push_back(buffer);
            stats_.free_bytes += bytes;
            return;
        }
    }
    std::free(buffer);
}

void BufferPool::clear() {
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto& [bytes, buffers] : free_)
        for (void* buffer : buffers) std::free(buffer);
    free_.clear();
    stats_.free_bytes = 0;
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
    static BufferPool* pool = new BufferPool(0);
#else
    static BufferPool* pool = new BufferPool();
#endif
    return *pool;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
