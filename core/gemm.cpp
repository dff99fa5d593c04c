// gemm.cpp: C (M, N) = (accumulate ? C : 0) + A (M, K) @ B (K, N) (+ a bias row), fast.  docs/matmul.md
//
// Dimension legend: M rows of A and C, N columns of B and C, K the summed dimension.
//   MR x NR   the register tile of C one micro-kernel call computes (13 x 32 floats with AVX-512)
//   kc, nc    the block of B packed at a time: (kc, nc), kept in L2
//
// The loop nest (BLIS / GotoBLAS style; every name below is a function or a loop in this file):
//
//   for jc over N in blocks of nc                       gemm_blocked
//     for pc over K in blocks of kc
//       pack B[pc:pc+kc, jc:jc+nc] into NR-wide panels   pack_panel<NR>    threads split the panels
//       for each strip of MR rows of C                   gemm_thread       threads split the strips
//         pack A[strip, pc:pc+kc] into one MR-wide panel  pack_panel<MR>    (kc, MR): stays in L1
//         for each NR-wide panel of the packed B block                      (kc, NR): streams from L2
//           C tile (MR, NR) += A panel @ B panel           micro_kernel      26 accumulators in registers
//           (+ the bias row, on the last K block)
// Either operand is read where it lies instead of packed when that measured faster (gemm_thread says when).
//
// Determinism: every C element is  (((C or 0) + dot over block 0 of K) + dot over block 1) + ...,
// each dot summed k = 0, 1, 2, ... in one register lane. The K blocks depend only on K (kc_for), never on
// the thread count, and threads only choose WHICH C tiles they compute, so any split gives the same bits.
// A long sum into a small C (a weight's gradient) is first cut into four groups of K, summed apart and then
// added in order (gemm_split_k); that cut also depends on M, N and K alone.
#include "gemm.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <new>

#include "check.h"
#include "simd.h"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// ---- Machine constants --------------------------------------------------------------------------------
// One SIMD register, Vec (core/simd.h): 64 bytes with AVX-512 (16 floats / 8 doubles), 32 with AVX2, 16
// with SSE2 and NEON; `acc += a * b` on it is one fused multiply-add instruction. The FMA peak probe
// (core/fma_peak.h) measures the same instruction on the same width: the ceiling of this kernel.
constexpr int64_t W = kVectorLanes;  // lanes per vector: 16 floats or 8 doubles (AVX-512)

// The register tile: MR rows x NV vectors of C, as many accumulators as the registers hold beside one row
// of B and the broadcast element of A.
//   AVX-512 has 32 vector registers: 13 x 2 = 26 accumulators, 2 for the B row, 1 for the broadcast A
//     element (12 and 14 rows measured the same or slower; 13 also divides the tiny-ViT row counts, 65
//     tokens and 8320 = 128 * 65, so no strip is left half empty).
//   AVX2 and SSE have 16 registers: 6 x 2 = 12 accumulators.
//   NEON (aarch64) has 32 registers of 4 floats: 6 x 4 = 24 accumulators and 4 for the B row, so a B row
//     is 16 floats, one 64-byte cache line, and each k costs 4 loads and 6 broadcasts for 24 fused
//     multiply-adds (13 x 2 would need 2 + 13 for 26). Chosen by this count, not measured: no ARM machine
//     was at hand, only an emulator (docs/building.md).
#if defined(__aarch64__)
constexpr int64_t MR = 6;
constexpr int64_t NV = 4;
#else
constexpr int64_t MR = kVectorBytes == 64 ? 13 : 6;
constexpr int64_t NV = 2;
#endif
constexpr int64_t NR = NV * W;  // 32 floats / 16 doubles with AVX-512: the tile is 128 bytes wide either way

// Cache blocking, for 48 KiB L1d and 2 MiB L2 per core (both blocks also fit 32 KiB and 1 MiB):
//   A panel (kc, MR)  = 384 * 13 * 4 B = 19.5 KiB: stays in L1 while it meets every B panel
//   B block (kc, nc)  = 384 * 640 * 4 B = 960 KiB: stays in L2 while every A strip streams past it
// Both are counted in bytes, so the float64 build halves kc and keeps the same footprint.
constexpr int64_t KC = 1536 / sizeof(Scalar);  // 384 floats / 192 doubles
constexpr int64_t NC = 640;                    // a multiple of NR in both flavours

// Rows of a_rows (gemm_thread's copy of an A strip), in numbers: one vector more than a K block, so that
// rows are never a multiple of 4 KiB apart (400 floats = 1600 bytes).
constexpr int64_t kARowStride = KC + W;

// B is read in place, without packing, when C has at most this many strips of MR rows (see gemm_thread).
constexpr int64_t kMaxStripsForBInPlace = 32;

// Products smaller than this many flops run on one thread: waking a second thread costs microseconds.
constexpr double kParallelFlops = 1 << 20;

// A long sum into a small C is cut into kKGroups groups of K (see gemm_split_k): when K has at least
// kSplitMinK terms and C at most kSplitMaxC numbers (512 KiB for float, so the partial sums stay small).
constexpr int64_t kKGroups = 4;
constexpr int64_t kSplitMinK = 4096;
constexpr int64_t kSplitMaxC = 128 * 1024;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// The K block size: K split into equal blocks of at most KC. It depends on K alone, which is what makes
// the result independent of the thread count (see the top of the file).
int64_t kc_for(int64_t K) { return ceil_div(K, ceil_div(K, KC)); }

// The N block size: N split into equal blocks of at most NC, rounded up to whole NR panels.
int64_t nc_for(int64_t N) { return ceil_div(ceil_div(N, ceil_div(N, NC)), NR) * NR; }

int max_threads() {
#ifdef _OPENMP
    return omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    return 1;
#endif
}

// A grow-only, 64-byte aligned scratch array for the packed B block. It is thread_local: each thread
// that calls gemm allocates its buffer once (960 KiB for float) and reuses it on every later call, so
// the steady state (a training loop) allocates nothing and does not page-fault on fresh memory.
// The buffer is freed when its thread exits.
struct Scratch {
    Scalar* data = nullptr;
    size_t size = 0;
    Scalar* get(size_t n) {
        if (n > size) {
            release();
            data = static_cast<Scalar*>(::operator new[](n * sizeof(Scalar), std::align_val_t{64}));
            size = n;
        }
        return data;
    }
    void release() {
        if (data) ::operator delete[](data, std::align_val_t{64});
        data = nullptr;
        size = 0;
    }
    ~Scratch() { release(); }
};
thread_local Scratch b_scratch;
thread_local Scratch partial_scratch;  // gemm_split_k's partial sums, kKGroups x (M, N)

// ---- Packing ------------------------------------------------------------------------------------------
// pack_panel<WIDTH>: copy a (kc, n) piece of an operand, n <= WIDTH, into dst (kc, WIDTH), row by row,
// zero-padding columns n..WIDTH-1:
//     dst[k * WIDTH + j] = src[k * k_stride + j * j_stride]
// A B panel is B[pc:pc+kc, j:j+NR]      (k_stride = B.row_stride, j_stride = B.col_stride);
// an A panel is A[i:i+MR, pc:pc+kc]^T   (k_stride = A.col_stride, j_stride = A.row_stride).
// After packing, the micro-kernel reads both panels front to back, one row of each per k, whatever the
// original strides were: this is where transposed operands stop costing anything.
template <int64_t WIDTH>
void pack_panel(Scalar* dst, const Scalar* src, int64_t kc, int64_t n, int64_t k_stride, int64_t j_stride) {
    if (n == WIDTH && j_stride == 1) {
        // Rows of the panel are contiguous in the source (B row-major, or A transposed): straight copies.
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t j = 0; j < WIDTH; ++j) dst[k * WIDTH + j] = src[k * k_stride + j];
        return;
    }
    if (k_stride == 1) {
        // Columns of the panel are contiguous in the source (A row-major, or B transposed): read each
        // source row once, in order, and scatter it down one column of dst.
        for (int64_t j = 0; j < n; ++j)
            for (int64_t k = 0; k < kc; ++k) dst[k * WIDTH + j] = src[j * j_stride + k];
    } else {
        for (int64_t k = 0; k < kc; ++k)
            for (int64_t j = 0; j < n; ++j) dst[k * WIDTH + j] = src[k * k_stride + j * j_stride];
    }
    for (int64_t k = 0; k < kc; ++k)
        for (int64_t j = n; j < WIDTH; ++j) dst[k * WIDTH + j] = 0;
}

// ---- The micro-kernel ---------------------------------------------------------------------------------
// c (MR, NVEC * W) = ((add ? c : 0) + a (MR, kc) @ b (kc, NVEC * W)) + bias (NVEC * W, the same for every row)
//   a: A's strip: the packed panel {a_pack, 1, MR}, or A itself (see gemm_thread)
//                                                    (one column of A per k: MR scalars to broadcast)
//   b: B's panel, b[k * ldb + j] = B(k, j): packed (ldb = NR), or B itself (see gemm_thread)
//                                                    (one row of B per k: NVEC vectors to load)
//   c: row-major with leading dimension ldc
//   bias: the tile's columns of gemm's row_bias, or null (only on the last K block)
//
//                 b row k:  [ vector 0 | vector 1 ]           NR = 2 * W columns
//   a column k:  a0  ->     acc[0][0]   acc[0][1]             acc[i][v] += broadcast(a_i) * b_v
//                a1  ->     acc[1][0]   acc[1][1]
//                ...            ...        ...                MR = 13 rows
//                a12 ->     acc[12][0]  acc[12][1]
//
// Per k: NVEC loads, MR broadcasts, MR * NVEC fused multiply-adds, and no stores: the MR * NVEC accumulators
// (26 with AVX-512) never leave the registers until the tile is done. NVEC = 1 serves the last, narrow
// panel of C. (`a` by reference: a struct by value goes through the stack, and reading it back just after
// the caller wrote it stalled every call; docs/matmul.md, section 8.)
template <int NVEC>
void micro_kernel(int64_t kc, const MatrixView& a, const Scalar* b, int64_t ldb, Scalar* c, int64_t ldc, bool add,
                  const Scalar* bias) {
    // Ask for C's tile now, for writing, so that its cache lines arrive while the products run: a cold C
    // (a fresh output, larger than L2) would otherwise stall the stores at the end of the tile.
    for (int64_t i = 0; i < MR; ++i)
        for (int v = 0; v < NVEC; ++v) __builtin_prefetch(c + i * ldc + v * W, 1);
    Vec acc[MR][NVEC] = {};
    for (int64_t k = 0; k < kc; ++k) {
        Vec b_row[NVEC];
        for (int v = 0; v < NVEC; ++v) std::memcpy(&b_row[v], b + k * ldb + v * W, sizeof(Vec));
        for (int64_t i = 0; i < MR; ++i) {
            // broadcast a(i, k) to all lanes (x - 0 is exactly x, even for x = -0)
            Vec a_i = a.data[i * a.row_stride + k * a.col_stride] - Vec{};
            for (int v = 0; v < NVEC; ++v) acc[i][v] += a_i * b_row[v];
        }
    }
    // Write the tile back: C rows are not aligned, so memcpy (an unaligned vector store).
    // (`#pragma GCC unroll`: fully unrolled loops let GCC keep acc[][] in registers instead of on the stack.)
    if (add) {
#pragma GCC unroll 16
        for (int64_t i = 0; i < MR; ++i)
            for (int v = 0; v < NVEC; ++v) {
                Vec old;
                std::memcpy(&old, c + i * ldc + v * W, sizeof(Vec));
                acc[i][v] = old + acc[i][v];
            }
    }
    if (bias) {
        Vec bias_row[NVEC];
        for (int v = 0; v < NVEC; ++v) std::memcpy(&bias_row[v], bias + v * W, sizeof(Vec));
#pragma GCC unroll 16
        for (int64_t i = 0; i < MR; ++i)
            for (int v = 0; v < NVEC; ++v) acc[i][v] += bias_row[v];
    }
#pragma GCC unroll 16
    for (int64_t i = 0; i < MR; ++i)
        for (int v = 0; v < NVEC; ++v) std::memcpy(c + i * ldc + v * W, &acc[i][v], sizeof(Vec));
}

// C tile (mr, nr) = ((add ? C : 0) + a panel @ b panel) + bias, for any mr <= MR, nr <= NR (bias: the tile's
// nr columns of row_bias, or null). A full tile goes straight to C; an edge tile is computed whole into a
// local tile (the padding is zeros) and its valid part copied, with the same additions as the straight
// path, so edge and interior elements round alike.
void compute_tile(int64_t kc, const MatrixView& a, const Scalar* b, int64_t ldb, Scalar* C, int64_t ldc, int64_t mr,
                  int64_t nr, bool add, const Scalar* bias) {
    if (mr == MR && nr == NR) return micro_kernel<NV>(kc, a, b, ldb, C, ldc, add, bias);
    if (mr == MR && nr == W) return micro_kernel<1>(kc, a, b, ldb, C, ldc, add, bias);  // one whole vector wide
    alignas(64) Scalar tile[MR * NR];  // (MR, NR), leading dimension NR
    if (nr <= W) micro_kernel<1>(kc, a, b, ldb, tile, NR, false, nullptr);
    else micro_kernel<NV>(kc, a, b, ldb, tile, NR, false, nullptr);
    for (int64_t i = 0; i < mr; ++i)
        for (int64_t j = 0; j < nr; ++j) {
            const Scalar sum = add ? C[i * ldc + j] + tile[i * NR + j] : tile[i * NR + j];
            C[i * ldc + j] = bias ? sum + bias[j] : sum;
        }
}

// ---- The blocked product ------------------------------------------------------------------------------
// The items [first, last) of n that thread t of T works on: contiguous, equal shares (like OpenMP's
// schedule(static), written out so that the serial case, T = 1, runs no OpenMP construct at all).
struct Share {
    int64_t first, last;
};
Share share(int64_t n, int t, int T) { return {n * t / T, n * (t + 1) / T}; }

// Wait until all T threads of the team get here. T = 1: nothing to wait for, and no OpenMP call, so a gemm
// made from inside someone else's parallel region never synchronises with that region's team.
void barrier(int T) {
#ifdef _OPENMP
    if (T > 1) {
#pragma omp barrier
    }
#else
    (void)T;
#endif
}

// Thread t's part of C (M, N) = ((accumulate ? C : 0) + A (M, K) @ B (K, N)) + row_bias, on a team of T
// threads that all run this function together and share b_pack, the packed B block (kc, nc).
void gemm_thread(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc,
                 bool accumulate, const Scalar* row_bias, Scalar* b_pack, int t, int T) {
    alignas(64) Scalar a_pack[KC * MR];            // this thread's packed A strip, (kc, MR)
    alignas(64) Scalar a_rows[MR * kARowStride];  // or its copy, (MR, kc) with rows kARowStride apart
    const int64_t kc_max = kc_for(K), nc_max = nc_for(N);
    const int64_t strips = ceil_div(M, MR);

    for (int64_t jc = 0; jc < N; jc += nc_max) {
        const int64_t nc = std::min(nc_max, N - jc);
        const int64_t panels = ceil_div(nc, NR);
        // The work items of this block: strips x chunks. Usually chunks = 1 and an item is one strip of MR
        // rows across the whole block. When there are too few strips to keep every thread busy (M small),
        // or too few to share evenly (5 strips on 2 threads: 3 against 2, the Swin's 64 x 64 weight
        // gradients), the block's columns are cut into chunks of whole panels as well, so that the items
        // share out evenly. Items run strip by strip, so a thread packs each of its strips once.
        int64_t chunks = 1;
        if (strips < 2 * T) chunks = std::min(panels, ceil_div(2 * T, strips));
        else if (strips % T != 0 && strips < 8 * T) chunks = std::min(panels, int64_t(T));
        const int64_t panels_per_chunk = ceil_div(panels, chunks);
        chunks = ceil_div(panels, panels_per_chunk);

        // B read in place: when B's rows are contiguous (col_stride 1) and every panel is a full NR wide,
        // the micro-kernel can read row k of a panel straight from B, NR numbers at B(k, j). The (kc, nc)
        // block then needs no copy, and with no shared copy the threads never wait for each other: no
        // barriers at all. Copying a block costs kc * nc loads and stores, paid once for all `strips`
        // strips that use it, so it is worth skipping for small products with few strips: attention's
        // (T, T) @ (T, D) per head, one K block (inference +3 to 4% for the ViT). A weight's gradient,
        // dW = dout^T x with K = B * T, also has few strips, and alone it ran 8 to 19% faster with x read
        // in place, but the whole training step ran 5% slower, so many K blocks keep the packed copy
        // (docs/matmul.md). Packing also stays for transposed or strided B, a narrow last panel (it needs
        // zero padding), and rows a multiple of 4 KiB apart (they would evict each other from the same
        // cache sets).
        const bool b_in_place = strips <= kMaxStripsForBInPlace && K <= KC && B.col_stride == 1 && N % NR == 0 &&
                                (B.row_stride * int64_t(sizeof(Scalar))) % 4096 != 0;

        for (int64_t pc = 0; pc < K; pc += kc_max) {
            const int64_t kc = std::min(kc_max, K - pc);
            const bool add = accumulate || pc > 0;  // the first K block overwrites C unless accumulating
            const bool last_block = pc + kc == K;   // the bias goes in once, after the whole sum

            // This thread packs panels [first, last) of the B block: b_pack[p * kc * NR, (p + 1) * kc * NR).
            if (!b_in_place) {
                const Share my_panels = share(panels, t, T);
                for (int64_t p = my_panels.first; p < my_panels.last; ++p) {
                    const int64_t j = jc + p * NR;
                    pack_panel<NR>(b_pack + p * kc * NR, B.data + pc * B.row_stride + j * B.col_stride, kc,
                                   std::min(NR, N - j), B.row_stride, B.col_stride);
                }
                barrier(T);  // the whole B block is packed before anyone reads it
            }

            // This thread owns the C tiles of items [first, last): rows [s * MR, s * MR + MR) x its chunk.
            const Share my_items = share(strips * chunks, t, T);
            int64_t packed_strip = -1;  // the strip now in a_pack or a_rows: its consecutive chunks share it
            for (int64_t item = my_items.first; item < my_items.last; ++item) {
                const int64_t s = item / chunks, chunk = item % chunks;
                const int64_t i = s * MR, mr = std::min(MR, M - i);
                const int64_t p_end = std::min(panels, (chunk + 1) * panels_per_chunk);
                // A's strip, rows [i, i + MR), columns [pc, pc + kc). The micro-kernel reads one column of
                // it per k: MR numbers, A(i, k) .. A(i + MR - 1, k). Where possible it reads them where they lie:
                //   row-major A (col_stride 1): the strip's MR rows stream front to back, and the strip (MR * kc
                //     numbers) stays in L1 while it meets every B panel. For the tiny ViT's forward products
                //     this measured 7 to 18% faster than packing (2 threads, e.g. 8320 x 128 x 256: 250 -> 297
                //     GFLOP/s; docs/matmul.md).
                //   column-major A (row_stride 1; A^T row-major, as dout^T in a weight's gradient dW = dout^T x):
                //     the MR numbers of one k are side by side, one cache line (two at most) a k. Weight
                //     gradients of the tiny ViT, 384 x 128 x 8320 on 2 threads: 282 to 287 -> 330 to 346
                //     GFLOP/s against packing.
                // Unless the lines the kernel reads are a multiple of 4 KiB apart (rows of K = 1024 floats, say):
                // the L1 cache places a line by its address modulo 4 KiB, so such lines all compete for the
                // same few places and evict each other. Then a row-major strip is copied row by row (straight
                // copies) into a_rows, whose rows are kc + W numbers apart (1024^3 on one thread: 150 to 166 ->
                // 180 to 184 GFLOP/s; docs/matmul.md), and any other strip (strided, aliasing columns, or the
                // short last strip) is packed (kc, MR). Same arithmetic every way.
                MatrixView a{A.data + i * A.row_stride + pc * A.col_stride, A.row_stride, A.col_stride};
                const bool full_strip = mr == MR;
                const bool row_major = A.col_stride == 1, column_major = A.row_stride == 1;
                const auto aliases_in_l1 = [](int64_t stride) {
                    return (stride * int64_t(sizeof(Scalar))) % 4096 == 0;
                };
                const bool rows_alias = aliases_in_l1(A.row_stride), columns_alias = aliases_in_l1(A.col_stride);
                const bool few_panels = p_end - chunk * panels_per_chunk <= 3;  // too little reuse to pay a copy
                const bool in_place = full_strip && ((row_major && (!rows_alias || few_panels)) ||
                                                     (column_major && !columns_alias));
                if (!in_place && full_strip && row_major) {
                    if (s != packed_strip)
                        for (int64_t r = 0; r < MR; ++r)
                            std::memcpy(a_rows + r * kARowStride, a.data + r * A.row_stride,
                                        size_t(kc) * sizeof(Scalar));
                    packed_strip = s;
                    a = {a_rows, kARowStride, 1};
                } else if (!in_place) {
                    if (s != packed_strip) pack_panel<MR>(a_pack, a.data, kc, mr, A.col_stride, A.row_stride);
                    packed_strip = s;
                    a = {a_pack, 1, MR};
                }
                for (int64_t p = chunk * panels_per_chunk; p < p_end; ++p) {
                    const int64_t j = jc + p * NR;
                    const Scalar* bias = row_bias && last_block ? row_bias + j : nullptr;
                    const Scalar* b = b_in_place ? B.data + pc * B.row_stride + j : b_pack + p * kc * NR;
                    const int64_t ldb = b_in_place ? B.row_stride : NR;
                    compute_tile(kc, a, b, ldb, C + i * ldc + j, ldc, mr, std::min(NR, N - j), add, bias);
                }
            }
            if (!b_in_place) barrier(T);  // nobody repacks B while another thread still reads it
        }
    }
}

// C (M, N) = ((accumulate ? C : 0) + A (M, K) @ B (K, N)) + row_bias on `threads` threads (1: serially,
// no OpenMP).
void gemm_blocked(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc,
                  bool accumulate, const Scalar* row_bias, int threads) {
    if (M == 0 || N == 0) return;
    if (K == 0) {  // an empty sum: C = C + 0 or C = 0, then the bias
        for (int64_t i = 0; i < M; ++i)
            for (int64_t j = 0; j < N; ++j) {
                const Scalar sum = accumulate ? C[i * ldc + j] : Scalar(0);
                C[i * ldc + j] = row_bias ? sum + row_bias[j] : sum;
            }
        return;
    }
    // The calling thread's buffer, shared by the team: (kc, nc) as nc / NR panels of (kc, NR).
    Scalar* b_pack = b_scratch.get(size_t(kc_for(K) * nc_for(N)));
    if (threads <= 1) return gemm_thread(M, N, K, A, B, C, ldc, accumulate, row_bias, b_pack, 0, 1);
#ifdef _OPENMP
#pragma omp parallel num_threads(threads)
    gemm_thread(M, N, K, A, B, C, ldc, accumulate, row_bias, b_pack, omp_get_thread_num(), omp_get_num_threads());
#endif
}

// ---- Long sums into a small C: K cut into groups ------------------------------------------------------
// A weight's gradient dW = dout^T x sums over every row of the batch: (384, 128) from K = 8320 terms for the
// tiny ViT's qkv, (64, 64) from K = 32768 for the Swin's first stage. C has few strips, so each K block
// gives the threads little work between the two barriers of gemm_thread, and there are many K blocks
// (86 for K = 32768): the threads spend their time waiting for each other. 64 x 64 x 32768 ran at 112
// GFLOP/s on one thread and 117 on two.
// Here K is cut instead, into kKGroups equal groups, a split that depends on K alone:
//     partial g (M, N) = A[:, group g] @ B[group g, :]           one serial gemm_blocked per group
//     C = (((((C or 0) + partial 0) + partial 1) + partial 2) + partial 3) + row_bias
// Each thread computes whole groups, each into its own partial, with no shared data and no barrier; the
// partials are then added in group order. The additions depend on K only, never on the thread count, so
// 1 and 2 threads give the same bits; the groups only change which terms are summed first (docs/matmul.md,
// section 6).
void gemm_split_k(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc,
                  bool accumulate, const Scalar* row_bias, int threads) {
    const int64_t group_k = ceil_div(K, kKGroups);  // terms per group; the last may have fewer
    Scalar* partials = partial_scratch.get(size_t(kKGroups * M * N));  // kKGroups x (M, N), ldc N
    const auto group_product = [&](int64_t g) {
        const int64_t k0 = g * group_k, k_g = std::min(group_k, K - k0);
        const MatrixView A_g{A.data + k0 * A.col_stride, A.row_stride, A.col_stride};  // A[:, k0 : k0 + k_g]
        const MatrixView B_g{B.data + k0 * B.row_stride, B.row_stride, B.col_stride};  // B[k0 : k0 + k_g, :]
        gemm_blocked(M, N, k_g, A_g, B_g, partials + g * M * N, N, false, nullptr, 1);
    };
    if (threads <= 1) {
        for (int64_t g = 0; g < kKGroups; ++g) group_product(g);
    } else {
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)  // iteration g owns partial g
#endif
        for (int64_t g = 0; g < kKGroups; ++g) group_product(g);
    }
    // C = (((C or 0) + partial 0) + ...) + row_bias: the rows of C are independent.
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)  // iteration i owns row i
#endif
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            Scalar sum = accumulate ? C[i * ldc + j] : Scalar(0);
            for (int64_t g = 0; g < kKGroups; ++g) sum += partials[g * M * N + i * N + j];
            C[i * ldc + j] = row_bias ? sum + row_bias[j] : sum;
        }
}

// C (M, N) = ((accumulate ? C : 0) + A (M, K) @ B (K, N)) + row_bias on `threads` threads, K cut into groups
// for a long sum into a small C, else blocked. The choice depends on M, N and K alone (the bits must not
// depend on the thread count).
void gemm_product(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc,
                  bool accumulate, const Scalar* row_bias, int threads) {
    if (K >= kSplitMinK && M * N <= kSplitMaxC && M > 0 && N > 0)
        return gemm_split_k(M, N, K, A, B, C, ldc, accumulate, row_bias, threads);
    gemm_blocked(M, N, K, A, B, C, ldc, accumulate, row_bias, threads);
}

void check_sizes(const char* name, int64_t M, int64_t N, int64_t K, int64_t ldc) {
    check(M >= 0 && N >= 0 && K >= 0, name, ": sizes must be non-negative, got M=", M, " N=", N, " K=", K);
    check(M <= 1 || ldc >= N, name, ": ldc=", ldc, " is smaller than N=", N, " for an (", M, ", ", N, ") C");
}

}  // namespace

void gemm(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc, bool accumulate,
          const Scalar* row_bias) {
    check_sizes("gemm", M, N, K, ldc);
    const double flops = 2.0 * double(M) * double(N) * double(K);
    gemm_product(M, N, K, A, B, C, ldc, accumulate, row_bias, flops < kParallelFlops ? 1 : max_threads());
}

void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K, MatrixView A, int64_t a_batch_stride,
                  MatrixView B, int64_t b_batch_stride, Scalar* C, int64_t ldc, int64_t c_batch_stride,
                  bool accumulate) {
    check_sizes("gemm_batched", M, N, K, ldc);
    check(batch >= 0, "gemm_batched: batch must be non-negative, got ", batch);
    auto operand = [](MatrixView X, int64_t stride, int64_t i) {
        return MatrixView{X.data + i * stride, X.row_stride, X.col_stride};
    };
    const double flops = 2.0 * double(M) * double(N) * double(K);
    const int threads = max_threads();

    // One C for all products: they must add into it one after another, each product split across threads.
    if (c_batch_stride == 0) {
        for (int64_t b = 0; b < batch; ++b)
            gemm(M, N, K, operand(A, a_batch_stride, b), operand(B, b_batch_stride, b), C, ldc, accumulate || b > 0);
        return;
    }
    // Split across the batch when the products are small (splitting one would cost more in
    // synchronisation than it saves) or when they divide evenly among the threads; otherwise (a few large
    // products, e.g. 3 on 2 threads) split inside each product. Either way each product is computed by the
    // same code with the same K blocks, so the bits do not depend on which split was chosen.
    const bool across_batch = threads > 1 && batch >= threads && (flops < (1 << 23) || batch % threads == 0);
    if (!across_batch) {
        for (int64_t b = 0; b < batch; ++b)
            gemm(M, N, K, operand(A, a_batch_stride, b), operand(B, b_batch_stride, b), C + b * c_batch_stride, ldc,
                 accumulate);
        return;
    }
    // Each iteration owns C_b = C + b * c_batch_stride (and its thread's own packing buffers).
#ifdef _OPENMP
#pragma omp parallel for schedule(static) num_threads(threads)
#endif
    for (int64_t b = 0; b < batch; ++b)
        gemm_product(M, N, K, operand(A, a_batch_stride, b), operand(B, b_batch_stride, b), C + b * c_batch_stride,
                     ldc, accumulate, nullptr, 1);
}

// The textbook loop: C(i, j) = ((accumulate ? C(i, j) : 0) + sum_k A(i, k) B(k, j)) + row_bias[j], summed
// k = 0, 1, ...
void gemm_reference(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc,
                    bool accumulate, const Scalar* row_bias) {
    check_sizes("gemm_reference", M, N, K, ldc);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t j = 0; j < N; ++j) {
            Scalar sum = 0;
            for (int64_t k = 0; k < K; ++k)
                sum += A.data[i * A.row_stride + k * A.col_stride] * B.data[k * B.row_stride + j * B.col_stride];
            const Scalar total = accumulate ? C[i * ldc + j] + sum : sum;
            C[i * ldc + j] = row_bias ? total + row_bias[j] : total;
        }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
