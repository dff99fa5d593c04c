// BufferPool (core/buffer_pool.h): freed tensor buffers come back for the next request of the same size.
#include <doctest/doctest.h>

#include <cstdint>
#include <fstream>
#include <new>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/buffer_pool.h"
#include "core/random.h"
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

TEST_CASE("buffer pool: small buffers go to the C library, and a pool that keeps nothing gives every buffer back") {
    BufferPool pool;
    void* small = pool.allocate(kBig / 2);
    pool.release(small, kBig / 2);
    CHECK(pool.stats().free_bytes == 0);  // not kept
    CHECK(pool.stats().fresh == 0);       // and not counted: small sizes bypass the pool

    BufferPool keeps_nothing(BufferPool::Keep::nothing);
    void* big = keeps_nothing.allocate(2 * kBig);
    CHECK(keeps_nothing.stats().live_bytes == 2 * kBig);
    keeps_nothing.release(big, 2 * kBig);
    CHECK(keeps_nothing.stats().free_bytes == 0);
    CHECK(keeps_nothing.stats().live_bytes == 0);
    CHECK(keeps_nothing.stats().peak_live_bytes == 2 * kBig);
}

TEST_CASE("buffer pool: a miss gives back free buffers, largest first, down to peak live + slack") {
    BufferPool pool(BufferPool::Keep::free_buffers, /*slack=*/kBig);
    // Four buffers of 2 kBig live at once: the peak is 8 kBig. All four are released, a[0] first.
    void* a[4];
    for (void*& buffer : a) buffer = pool.allocate(2 * kBig);
    for (void* buffer : a) pool.release(buffer, 2 * kBig);
    CHECK(pool.stats().peak_live_bytes == 8 * kBig);
    CHECK(pool.stats().free_bytes == 8 * kBig);  // all kept: live + free = 8 <= 8 + 1

    // A size the lists do not hold (in kBig): live 3 + free 8 = 11 > peak 8 + slack 1. Giving back one of
    // the largest, the one released longest ago, a[0], leaves 3 + 6 = 9 <= 9: exactly one buffer goes.
    void* other = pool.allocate(3 * kBig);
    CHECK(pool.stats().evicted == 1);
    CHECK(pool.stats().free_bytes == 6 * kBig);
    CHECK(pool.stats().live_bytes == 3 * kBig);
    CHECK(pool.stats().peak_live_bytes == 8 * kBig);
    // The survivors come back newest first: a[3], a[2], a[1]; a[0] was given back.
    CHECK(pool.allocate(2 * kBig) == a[3]);
    CHECK(pool.allocate(2 * kBig) == a[2]);
    CHECK(pool.allocate(2 * kBig) == a[1]);
    CHECK(pool.stats().free_bytes == 0);
    CHECK(pool.stats().reused == 3);
    CHECK(pool.stats().fresh == 5);
    pool.release(other, 3 * kBig);
    for (int i = 1; i < 4; ++i) pool.release(a[i], 2 * kBig);

    // Across sizes: x (2), y (3), z (2) live at once (the peak, after clear, is 7), then released x, z, y.
    // A miss for 4 gives back the largest first: y, although x and z came back before it.
    pool.clear();
    void* x = pool.allocate(2 * kBig);
    void* y = pool.allocate(3 * kBig);
    void* z = pool.allocate(2 * kBig);
    pool.release(x, 2 * kBig);
    pool.release(z, 2 * kBig);
    pool.release(y, 3 * kBig);
    const size_t evicted_before = pool.stats().evicted;
    void* w = pool.allocate(4 * kBig);  // live 4 + free 7 = 11 > peak 7 + slack 1: y goes, 4 + 4 = 8 <= 8
    CHECK(pool.stats().evicted == evicted_before + 1);
    CHECK(pool.stats().free_bytes == 4 * kBig);
    CHECK(pool.allocate(2 * kBig) == z);
    CHECK(pool.allocate(2 * kBig) == x);
    pool.release(w, 4 * kBig);
    pool.release(x, 2 * kBig);
    pool.release(z, 2 * kBig);

    // A new peak needs no eviction: live grows with it.
    pool.clear();
    CHECK(pool.stats().free_bytes == 0);
    CHECK(pool.stats().peak_live_bytes == 0);  // clear starts the peak afresh from what is live: nothing
    void* big = pool.allocate(16 * kBig);
    CHECK(pool.stats().peak_live_bytes == 16 * kBig);
    CHECK(pool.stats().evicted == evicted_before + 1);  // unchanged
    pool.release(big, 16 * kBig);
}

namespace {
// Runs `steps` random requests and releases on `pool`, sizes drawn by `size_of(rng)`, at most `max_live`
// buffers live at once, and checks after every one that the pool's bookkeeping adds up and that the line
// holds: live + free <= peak live + slack. Writes both ends of every buffer it gets.
template <typename SizeOf>
void check_the_line(BufferPool& pool, size_t slack, int steps, size_t max_live, Rng& rng, SizeOf size_of) {
    std::vector<std::pair<char*, size_t>> live;
    size_t live_bytes = 0;
    for (int step = 0; step < steps; ++step) {
        const bool allocate = live.empty() || (live.size() < max_live && rng.uniform() < 0.55);
        if (allocate) {
            const size_t bytes = size_of(rng);
            auto* buffer = static_cast<char*>(pool.allocate(bytes));
            buffer[0] = 1;
            buffer[bytes - 1] = 1;
            live.push_back({buffer, bytes});
            live_bytes += bytes;
        } else {
            const size_t which = size_t(rng.uniform() * double(live.size())) % live.size();
            pool.release(live[which].first, live[which].second);
            live_bytes -= live[which].second;
            live.erase(live.begin() + int64_t(which));
        }
        const BufferPool::Stats s = pool.stats();
        REQUIRE(s.live_bytes == live_bytes);
        REQUIRE(s.peak_live_bytes >= s.live_bytes);
        REQUIRE(s.live_bytes + s.free_bytes <= s.peak_live_bytes + slack);
    }
    for (auto& [buffer, bytes] : live) pool.release(buffer, bytes);
}
}  // namespace

TEST_CASE("buffer pool: live + free never exceeds peak live + slack, whatever the order of requests") {
    // A random mix of six sizes, up to 24 buffers live.
    const size_t slack = 3 * kBig;
    BufferPool pool(BufferPool::Keep::free_buffers, slack);
    Rng rng(7);
    check_the_line(pool, slack, 2000, 24, rng, [](Rng& r) { return kBig * (1 + size_t(r.uniform() * 6) % 6); });
    CHECK(pool.stats().reused > 0);
    CHECK(pool.stats().evicted > 0);  // the mix of sizes made the pool give buffers back
}

TEST_CASE("buffer pool: the line holds for buffers of 2 MiB and more too, cut down or fresh") {
    // Six sizes from 2 to 4.5 MiB, up to 8 buffers live.
    constexpr size_t kHuge = BufferPool::kHugePageBytes;
    const size_t slack = kHuge;
    BufferPool pool(BufferPool::Keep::free_buffers, slack);
    Rng rng(11);
    check_the_line(pool, slack, 400, 8, rng, [](Rng& r) { return kHuge / 2 * (2 + size_t(r.uniform() * 6) % 6); });
#if defined(__linux__) && !defined(__SANITIZE_ADDRESS__)
    CHECK(pool.stats().cut_down > 0);
#endif
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
    BufferPool pool(BufferPool::Keep::nothing);
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
#if !defined(__SANITIZE_ADDRESS__)  // under AddressSanitizer every buffer is the C library's, watched by it
TEST_CASE("buffer pool: a buffer of 2 MiB or more is its own mapping, 2 MiB-aligned, and given back really goes") {
    BufferPool pool;
    const size_t bytes = 3 * BufferPool::kHugePageBytes + 4 * kBig;  // not a whole number of 2 MiB pages
    auto* buffer = static_cast<char*>(pool.allocate(bytes));
    CHECK(reinterpret_cast<uintptr_t>(buffer) % BufferPool::kHugePageBytes == 0);
    buffer[0] = 1;  // both ends are there to be written
    buffer[bytes - 1] = 2;
    const bool sees_mappings = !running_under_emulator();  // an emulator may show its own /proc/self/smaps
    if (sees_mappings) CHECK(vm_flags_of(buffer + bytes - 1).find("VmFlags:") == 0);
    pool.release(buffer, bytes);
    if (sees_mappings) CHECK(vm_flags_of(buffer).find("VmFlags:") == 0);  // kept in the lists: still mapped
    pool.clear();
    if (sees_mappings) {
        CHECK(vm_flags_of(buffer) == "");  // given back: no mapping holds it any more
        CHECK(vm_flags_of(buffer + bytes - 1) == "");
    }
}

TEST_CASE("buffer pool: a miss of 2 MiB or more is met by cutting the largest free buffer down, its pages kept") {
    constexpr size_t kHuge = BufferPool::kHugePageBytes;
    BufferPool pool;
    auto* large = static_cast<char*>(pool.allocate(4 * kHuge));
    auto* small = static_cast<char*>(pool.allocate(kHuge));
    large[0] = 42;  // a mark the cut-down buffer still carries: the same pages, not fresh zeroed ones
    pool.release(large, 4 * kHuge);
    pool.release(small, kHuge);

    // 3 kHuge: no list holds it; the largest free buffer (4 kHuge) does, cut down.
    auto* cut = static_cast<char*>(pool.allocate(3 * kHuge));
    CHECK(cut == large);
    CHECK(cut[0] == 42);
    cut[3 * kHuge - 1] = 1;  // the whole request is there to be written
    BufferPool::Stats s = pool.stats();
    CHECK(s.cut_down == 1);
    CHECK(s.fresh == 2);  // only the first two
    CHECK(s.free_bytes == kHuge);
    CHECK(s.live_bytes == 3 * kHuge);
    if (!running_under_emulator()) {  // an emulator may show its own /proc/self/smaps
        CHECK(vm_flags_of(cut + 3 * kHuge - 1).find("VmFlags:") == 0);
        CHECK(vm_flags_of(cut + 3 * kHuge) == "");  // the tail went back to the kernel
    }

    // 2 kHuge: the largest free buffer now is 1 kHuge, too small: a fresh buffer (the pool evicts what
    // the line needs; peak 5 + slack 40 MiB leaves room, so nothing).
    void* fresh = pool.allocate(2 * kHuge);
    s = pool.stats();
    CHECK(fresh != small);
    CHECK(s.cut_down == 1);
    CHECK(s.fresh == 3);
    // A size below 2 MiB is never cut from a mapping: it is the C library's.
    void* below = pool.allocate(kHuge - BufferPool::kMinPooledBytes);
    CHECK(pool.stats().cut_down == 1);
    pool.release(below, kHuge - BufferPool::kMinPooledBytes);
    pool.release(fresh, 2 * kHuge);
    pool.release(cut, 3 * kHuge);
}
#endif
#endif

TEST_CASE("buffer pool: an impossible size is std::bad_alloc, not a wrapped-around small buffer") {
    BufferPool pool;
    CHECK_THROWS_AS(pool.allocate(SIZE_MAX - 10), std::bad_alloc);
    CHECK_THROWS_AS(Tensor::empty({int64_t(1) << 40, int64_t(1) << 22}), std::bad_alloc);
#if !defined(__SANITIZE_ADDRESS__)  // AddressSanitizer stops the program on such a request instead
    // A size that rounds fine but that no machine can give (1 PiB): the refusal leaves no trace in the
    // pool's books.
    CHECK_THROWS_AS(pool.allocate(size_t(1) << 50), std::bad_alloc);
    CHECK(pool.stats().live_bytes == 0);
    CHECK(pool.stats().fresh == 0);
#endif
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
