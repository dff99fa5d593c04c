#pragma once
// The FMA peak probe: this machine's highest rate of fused multiply-adds on Scalars (float32 in the
// training build), measured on T threads. Every matrix product runs on that instruction (core/gemm.cpp's
// micro-kernel, the same Vec of core/simd.h), so no product, and no training step, can go faster;
// `patchgrad bench` divides what it achieves by this figure to show the distance to the physical limit
// (docs/performance.md, "The distance to the peak").
//
// It lives in core/, beside the kernel it bounds, rather than in the command line: it measures the
// instruction the library itself compiles to, on the vector width the same -march flags chose for gemm
// (make ARCH=x86-64-v3 gives AVX2 to both), and any program linked with the library can ask for it.
//
//   FmaPeak peak = measure_fma_peak(/*threads=*/2);
//   // peak.gflop_s: per thread 2 x lanes x chains x iterations / its fastest repeat's seconds, summed, / 1e9
#include <cstdint>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

struct FmaPeak {
    double gflop_s;       // billions of flops per second: each thread's fastest repeat, summed over the threads
    int64_t threads;      // T
    int64_t vector_bits;  // 512 with AVX-512, 256 with AVX2, 128 with SSE2 and NEON (core/simd.h)
    int64_t chains;       // independent multiply-add chains per thread (fma_peak.cpp derives the number)
    int64_t iterations;   // multiply-adds per chain in one repeat
    int64_t repeats;      // per thread
    double checksum;      // every lane of every chain after every repeat, summed (fma_peak.cpp: run_chains)
};

// T threads run at once; each runs `repeats` times `chains` independent chains of `iterations` vector
// multiply-adds (2 x lanes x chains x iterations flops a repeat), timing each repeat itself, and keeps its
// fastest. gflop_s sums the T threads' best rates: what the cores reach when each runs undisturbed, the
// ceiling for a busy machine as for a quiet one. (Timed as a team, the thread that waited for its core
// would set the figure: on this project's shared 2-core machine, 14 GFLOP/s for 2 threads against 118 for
// one.) The threads are taken to run on distinct cores, as OpenMP places them when there are enough; two
// on one hyper-threaded core share its pipes. The defaults take about a millisecond a repeat on a recent
// x86-64 core. Without OpenMP the threads run one after another, each still timing only itself.
// Throws std::invalid_argument unless threads, iterations and repeats are all >= 1.
FmaPeak measure_fma_peak(int64_t threads, int64_t iterations = 1 << 18, int64_t repeats = 10);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
