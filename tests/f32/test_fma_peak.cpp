// The FMA peak probe (core/fma_peak.h): every chain of every thread runs to its end (the checksum tells an
// even number of steps from an odd one), at the vector width gemm computes with (core/simd.h), with chains
// enough to hide an FMA's latency; counts below 1 are refused. No speed is asserted, only that one was
// measured: `patchgrad bench --peak` and `make bench` show the figure.
#include "core/fma_peak.h"
#include "core/simd.h"
#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("fma peak: every chain of every thread runs to its end, every repeat") {
    for (int64_t threads : {1, 2})
        for (int64_t iterations : {1000, 999}) {
            CAPTURE(threads);
            CAPTURE(iterations);
            const FmaPeak peak = measure_fma_peak(threads, iterations, /*repeats=*/3);
            // Lane l of chain c starts repeat r at r + c + l / lanes, and x -> -x at each step: after an even
            // number of steps it is back where it started, after an odd number at minus that.
            double starts = 0;
            for (int64_t r = 0; r < 3; ++r)
                for (int64_t c = 0; c < peak.chains; ++c)
                    for (int64_t l = 0; l < kVectorLanes; ++l) starts += r + c + double(l) / kVectorLanes;
            CHECK(peak.checksum == (iterations % 2 == 0 ? 1 : -1) * starts * threads);
            CHECK(peak.threads == threads);
            CHECK(peak.iterations == iterations);
            CHECK(peak.repeats == 3);
            CHECK(std::isfinite(peak.gflop_s));
            CHECK(peak.gflop_s > 0);
        }
}

TEST_CASE("fma peak: gemm's vector width, and chains enough for latency x pipes") {
    const FmaPeak peak = measure_fma_peak(1, 100, 1);
    CHECK(peak.vector_bits == 8 * kVectorBytes);
#if defined(__AVX512F__)
    CHECK(peak.vector_bits == 512);
#endif
    CHECK(peak.chains >= 8);  // 4 cycles x 2 pipes on most x86-64 cores (fma_peak.cpp)
}

TEST_CASE("fma peak: counts below 1 are refused, with the numbers") {
    CHECK(thrown_message([] { measure_fma_peak(0); }) ==
          "measure_fma_peak: threads 0, iterations 262144 and repeats 10 must all be >= 1");
    CHECK_THROWS_AS(measure_fma_peak(1, 0), std::invalid_argument);
    CHECK_THROWS_AS(measure_fma_peak(1, 10, 0), std::invalid_argument);
}
