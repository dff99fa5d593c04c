// BufferPool (core/buffer_pool.h): freed tensor buffers come back for the next request of the same size.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <new>
#include <sstream>
#include <string>

#include "core/buffer_pool.h"
#include "core/tensor.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {
constexpr size_t kBig = BufferPool::kMinPooledBytes;  // the smallest size the pool keeps
}

TEST_CASE("buffer pool: a released buffer is handed out again for the same size, and only for it") {
    BufferPool pool;
    void* first = pool.allocate(kBig);
    CHECK(reinterpret_cast<uintptr_t>(first) % BufferPool::kAlignment == 0);
    pool.release(first, kBig);
    CHECK(pool.stats().free_bytes == kBig);

    void* other_size = pool.allocate(2 * kBig);  // a different size: a fresh buffer
    CHECK(other_size != first);
    void* again = pool.allocate(kBig);  // the same size: the buffer released above
    CHECK(again == first);
    CHECK(pool.stats().free_bytes == 0);
    CHECK(pool.stats().reused == 1);
    CHECK(pool.stats().fresh == 2);
    pool.release(again, kBig);
    pool.release(other_size, 2 * kBig);
    CHECK(pool.stats().free_bytes == 3 * kBig);
    pool.clear();
    CHECK(pool.stats().free_bytes == 0);
}

TEST_CASE("buffer pool: sizes are rounded to 64 bytes, so 64 * k - 5 and 64 * k bytes share a list") {
    CHECK(BufferPool::rounded(0) == 64);
    CHECK(BufferPool::rounded(1) == 64);
    CHECK(BufferPool::rounded(64) == 64);
    CHECK(BufferPool::rounded(65) == 128);
    BufferPool pool;
    void* a = pool.allocate(kBig - 5);
    pool.release(a, kBig - 5);
    CHECK(pool.allocate(kBig) == a);
    pool.release(a, kBig);
}

TEST_CASE("buffer pool: small buffers and buffers beyond the limit go back to the C library") {
    BufferPool pool(3 * kBig);  // keeps at most three big buffers' worth
    void* small = pool.allocate(kBig / 2);
    pool.release(small, kBig / 2);
    CHECK(pool.stats().free_bytes == 0);  // not kept
    CHECK(pool.stats().fresh == 0);       // and not counted: small sizes bypass the pool

    void* a = pool.allocate(2 * kBig);
    void* b = pool.allocate(2 * kBig);
    pool.release(a, 2 * kBig);
    pool.release(b, 2 * kBig);  // 4 * kBig would exceed the limit: freed
    CHECK(pool.stats().free_bytes == 2 * kBig);
    CHECK(pool.allocate(2 * kBig) == a);
    pool.release(a, 2 * kBig);
}

#if defined(__linux__)
namespace {
// The VmFlags of the memory mapping that holds `address`, from /proc/self/smaps ("hg": advised for huge
// pages), or "" when no mapping holds it.
std::string vm_flags_of(const void* address) {
    const auto where = reinterpret_cast<uintptr_t>(address);
    std::ifstream smaps("/proc/self/smaps");
    bool inside = false;
    for (std::string line; std::getline(smaps, line);) {
        if (line.rfind("VmFlags:", 0) == 0) {
            if (inside) return line;
            continue;
        }
        // A mapping's first line: "start-end perms offset ...", both addresses in hex.
        uintptr_t start = 0, end = 0;
        char dash = 0;
        std::istringstream header(line);
        if (header >> std::hex >> start >> dash >> end && dash == '-') inside = start <= where && where < end;
    }
    return "";
}
}  // namespace

TEST_CASE("buffer pool: a fresh buffer of 2 MiB or more is advised for huge pages, a small one is not") {
    BufferPool pool(0);
    const size_t big_bytes = 8 * BufferPool::kHugePageBytes;
    auto* big = static_cast<char*>(pool.allocate(big_bytes));
    auto* small = static_cast<char*>(pool.allocate(kBig));
    const std::string big_flags = vm_flags_of(big + big_bytes / 2), small_flags = vm_flags_of(small);
    // A kernel built without huge pages refuses the advice (and has no such folder), and an emulator may
    // take it without passing it on (tests/helpers.h): nothing to see there.
    if (std::ifstream("/sys/kernel/mm/transparent_hugepage/enabled") && !running_under_emulator())
        CHECK(big_flags.find(" hg") != std::string::npos);
    CHECK(small_flags.find("VmFlags:") == 0);  // the lookup found the mapping...
    CHECK(small_flags.find(" hg") == std::string::npos);  // ...and it was not advised
    pool.release(big, big_bytes);
    pool.release(small, kBig);
}
#endif

TEST_CASE("buffer pool: an impossible size is std::bad_alloc, not a wrapped-around small buffer") {
    BufferPool pool;
    CHECK_THROWS_AS(pool.allocate(SIZE_MAX - 10), std::bad_alloc);
    CHECK_THROWS_AS(Tensor::empty({int64_t(1) << 40, int64_t(1) << 22}), std::bad_alloc);
}

#if !defined(__SANITIZE_ADDRESS__)  // under AddressSanitizer the storage pool keeps nothing, on purpose
TEST_CASE("buffer pool: a tensor's numbers reuse the buffer of a tensor of the same size that died") {
    const int64_t n = int64_t(kBig / sizeof(Scalar)) * 4;  // 4 * kBig bytes: pooled
    const Scalar* old_data = nullptr;
    {
        Tensor t = Tensor::zeros({n});
        old_data = t.data();
    }
    Tensor again = Tensor::empty({n / 2, 2});  // same number of elements, another shape
    CHECK(again.data() == old_data);
}
#endif
