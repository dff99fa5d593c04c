// The FMA peak probe (core/fma_peak.h): as many fused multiply-adds per second as the cores can start.
//
// Legend: L lanes per vector (16 floats with AVX-512), K chains per thread, I iterations, T threads.
//
// Why chains. One FMA's result is ready `latency` cycles after it starts (4 on most cores of the last
// decade, 5 on Haswell and AMD Zen 2), and a core starts up to `pipes` FMAs per cycle (2 on most x86-64
// cores; 1 for a 512-bit FMA on AMD Zen 4, which splits it over its two 256-bit pipes; 4 NEON pipes on
// Apple's M1 and Arm's Neoverse V1). A chain x -> x * a + x cannot start its next FMA before the last one
// finished, so one chain reaches 1 / (latency x pipes) of the peak, and the peak needs at least
//     latency x pipes  independent chains in flight:  4 x 2 = 8 (Intel AVX-512, AVX2), 5 x 2 = 10
//     (Haswell, Zen 2), 4 x 4 = 16 (Apple M1, Neoverse V1).
// K = 16 where there are 32 vector registers (AVX-512, NEON) and K = 12 where there are 16 (AVX2, SSE):
// at least every product above that the instruction set meets, with registers left for a (and SSE's
// temporary), so no chain ever leaves its register. More chains than needed cost nothing.
//
// What keeps the compiler honest. Each chain starts at its own value and every lane ends up in the
// returned sum, which the caller keeps (FmaPeak::checksum), so the loop cannot be deleted; the chains
// are independent floating-point recurrences, which the compiler may not reassociate or merge (no
// -ffast-math). `g++ -O3 -march=native -S core/fma_peak.cpp` shows the inner loop as 16 vfmadd132ps on
// zmm registers and nothing else but the loop counter: 12 on ymm with ARCH=x86-64-v3, 16 fmla on aarch64.
// x86-64-v2 has no FMA instruction: there each step is a multiply then an add, as gemm's products are too,
// up to 8 cycles of latency on 2 pipes, where 12 chains reach 12/16 of that pair's peak.
#include "fma_peak.h"

#include <algorithm>
#include <chrono>
#include <limits>
#include <vector>

#include "check.h"
#include "simd.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

#if defined(__AVX512F__) || defined(__aarch64__)
constexpr int kChains = 16;  // 32 vector registers
#else
constexpr int kChains = 12;  // 16 vector registers (AVX2, SSE2)
#endif

// One thread's work: K chains x -> x * a + x with a = -2, that is x -> -x, each I steps long, on whole
// vectors. Every step is one FMA whose result the chain's next step needs; the value stays where it
// started (x, -x, x, ...), a normal number, so no denormal slows an FMA and nothing overflows. The chain
// is both the addend and a multiplicand, so each step is one instruction that writes over its own register
// on x86-64 (vfmadd) and on ARM, whose fmla adds into its destination (with a constant addend b, ARM would
// need a copy of b before each fmla). Returns every lane of every chain, summed: the sum of the starting
// values after an even number of steps, minus it after an odd number.
Scalar run_chains(int64_t iterations, Scalar a_value, Scalar offset) {
    Vec acc[kChains];
    for (int c = 0; c < kChains; ++c)
        for (int64_t l = 0; l < kVectorLanes; ++l) acc[c][l] = offset + Scalar(c) + Scalar(l) / Scalar(kVectorLanes);
    const Vec a = a_value - Vec{};  // broadcast to every lane (as gemm.cpp writes it)
    for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 16
        for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * a + acc[c];  // one FMA; chain c waits only on itself
    }
    Scalar sum = 0;
    for (int c = 0; c < kChains; ++c)
        for (int64_t l = 0; l < kVectorLanes; ++l) sum += acc[c][l];
    return sum;
}

}  // namespace

FmaPeak measure_fma_peak(int64_t threads, int64_t iterations, int64_t repeats) {
    check(threads >= 1 && iterations >= 1 && repeats >= 1, "measure_fma_peak: threads ", threads, ", iterations ",
          iterations, " and repeats ", repeats, " must all be >= 1");
    const size_t T = static_cast<size_t>(threads);
    std::vector<double> best_seconds(T, std::numeric_limits<double>::infinity());
    std::vector<double> sums(T, 0.0);
    // iteration t owns best_seconds[t] and sums[t]: one iteration per thread, all running at once
#pragma omp parallel for num_threads(static_cast<int>(threads)) schedule(static, 1)
    for (size_t t = 0; t < T; ++t) {
        for (int64_t r = 0; r < repeats; ++r) {
            const auto start = std::chrono::steady_clock::now();
            sums[t] += run_chains(iterations, Scalar(-2), Scalar(r));
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            best_seconds[t] = std::min(best_seconds[t], seconds);
        }
    }
    const double flops_per_thread = 2.0 * double(kVectorLanes) * kChains * double(iterations);
    double flops_per_second = 0, checksum = 0;
    for (size_t t = 0; t < T; ++t) {
        flops_per_second += flops_per_thread / best_seconds[t];
        checksum += sums[t];
    }
    return {.gflop_s = flops_per_second / 1e9, .threads = threads, .vector_bits = 8 * kVectorBytes,
            .chains = kChains, .iterations = iterations, .repeats = repeats, .checksum = checksum};
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
