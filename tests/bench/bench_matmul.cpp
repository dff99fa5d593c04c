// bench_matmul: patchgrad gemm GFLOP/s, measured the way /work/shared/bench/sgemm_ref.c measures OpenBLAS
// (same operand values, reps ~ 2e10 / flops clamped to [3, 2000], best of 5 timed runs), so the two
// numbers can be divided.
//
// usage: bench_matmul THREADS CASE M N K [CASE M N K ...]       prints "CASE M N K gflops" per case
//   CASE  nn        C = A @ B        A (M, K), B (K, N) row-major        (the forward)
//         nt        C = A @ B^T      B stored (N, K) row-major           (dA = dC @ W^T in the backward)
//         tn        C = A^T @ B      A stored (K, M) row-major           (dW = X^T @ dC in the backward)
//         batchNNN  NNN independent products A_i (M, K) @ B_i (K, N) through gemm_batched (attention)
//
// build: g++ -std=c++20 -O3 -march=native -fopenmp -I. core/gemm.cpp tests/bench/bench_matmul.cpp -o bench_matmul
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/gemm.h"

using namespace patchgrad;

static double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
    if (argc < 6 || (argc - 2) % 4 != 0) {
        std::fprintf(stderr, "usage: %s THREADS CASE M N K [CASE M N K ...]   CASE: nn nt tn batchNNN\n", argv[0]);
        return 2;
    }
    const int threads = std::atoi(argv[1]);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#else
    if (threads != 1) std::fprintf(stderr, "bench_matmul: built without OpenMP, running on 1 thread\n");
#endif
    for (int arg = 2; arg + 3 < argc; arg += 4) {
        const std::string kind = argv[arg];
        const int64_t M = std::atoll(argv[arg + 1]), N = std::atoll(argv[arg + 2]), K = std::atoll(argv[arg + 3]);
        int64_t batch = 1;
        if (kind.rfind("batch", 0) == 0) batch = std::atoll(kind.c_str() + 5);
        else if (kind != "nn" && kind != "nt" && kind != "tn") {
            std::fprintf(stderr, "bench_matmul: unknown case '%s' (nn, nt, tn, batchNNN)\n", kind.c_str());
            return 2;
        }
        // Same values as sgemm_ref.c.
        std::vector<Scalar> A(size_t(batch * M * K)), B(size_t(batch * K * N)), C(size_t(batch * M * N));
        for (size_t i = 0; i < A.size(); ++i) A[i] = Scalar(int64_t(i * 7 % 13) - 6) / 13;
        for (size_t i = 0; i < B.size(); ++i) B[i] = Scalar(int64_t(i * 5 % 11) - 5) / 11;
        MatrixView a{A.data(), K, 1}, b{B.data(), N, 1};
        if (kind == "tn") a = {A.data(), 1, M};  // A stored (K, M): A^T is (M, K)
        if (kind == "nt") b = {B.data(), 1, K};  // B stored (N, K): B^T is (K, N)
        auto run = [&] {
            if (batch > 1) gemm_batched(batch, M, N, K, a, M * K, b, K * N, C.data(), N, M * N, false);
            else gemm(M, N, K, a, b, C.data(), N, false);
        };
        const double flops = 2.0 * double(batch * M * N * K);
        int reps = int(2e10 / flops);
        reps = reps < 3 ? 3 : reps > 2000 ? 2000 : reps;
        run();  // warm up: first-touch pages, packing buffers, the OpenMP thread pool
        double best = 1e30;
        for (int r = 0; r < 5; ++r) {
            const double t0 = now();
            for (int i = 0; i < reps; ++i) run();
            const double dt = (now() - t0) / reps;
            if (dt < best) best = dt;
        }
        std::printf("%s %lld %lld %lld %.1f\n", kind.c_str(), (long long)M, (long long)N, (long long)K,
                    flops / best * 1e-9);
        std::fflush(stdout);
    }
    return 0;
}
