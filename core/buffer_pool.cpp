// BufferPool: recycled tensor buffers (see buffer_pool.h for why).
#include "buffer_pool.h"

#include <cstdint>
#include <cstdlib>
#include <new>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

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
    void* buffer = std::aligned_alloc(kAlignment, bytes);  // bytes is a multiple of the alignment
    if (!buffer) throw std::bad_alloc();
    return buffer;
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
