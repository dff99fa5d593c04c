// small_gemm.cpp: C (M, vectors * W) = (accumulate ? C : 0) + A (M, K) @ B (K, vectors * W), operands in L1.
//
// Legend: M rows of A and C, K the summed dimension, W lanes per vector (16 floats with AVX-512),
//         R x V  the register tile: R rows of C, V vectors of W columns each.
//
// The tile is gemm's micro-kernel (core/gemm.cpp) with its shape chosen per product instead of fixed:
//
//                 B row k:  [ vector 0 | ... | vector V-1 ]
//   A column k:  a0  ->     acc[0][0]   ...   acc[0][V-1]        acc[r][v] += broadcast(a_r) * b_v
//                ...
//                aR-1 ->    acc[R-1][0] ...   acc[R-1][V-1]
//
// Per k: V loads, R broadcasts, R * V fused multiply-adds. The R * V accumulators must stay in registers
// beside the V loaded vectors and one broadcast: at most 26 of them with 32 vector registers (AVX-512,
// NEON), 12 with 16 (AVX2, SSE). So a row of C is cut into column chunks of at most kMaxVectors vectors,
// and each chunk into row tiles of R rows, R from kRowTiles: the largest that fits and divides the rows,
// else, tile by tile, the largest that fits in the rows left. Examples with AVX-512 (W = 16):
//   attention scores of the ViT, 65 x 80 (5 vectors) x 32: 13 tiles of 5 x 5, 25 accumulators
//   its weighted values, 65 x 32 (2 vectors) x 65:           5 tiles of 13 x 2, 26 accumulators
//   a Swin window's scores, 16 x 16 (1 vector) x 32:         1 tile of 16 x 1, 16 accumulators
#include "small_gemm.h"

#include <cstring>

#include "check.h"
#include "simd.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

constexpr int64_t W = kVectorLanes;

// The budget: accumulators, and the widest B row (vectors) kept beside them and one broadcast. With 16
// registers, 3 vectors would leave 12 + 3 + 1 = 16 and nothing spare: GCC then kept the accumulators of a
// 4 x 3 tile on the stack, and the ViT's attention ran twice as slow in the AVX2 build (build/bench_attention,
// 2.9 -> 5.4 ms). 2 vectors leave 12 + 2 + 1 = 15.
#if defined(__AVX512F__) || defined(__aarch64__)
constexpr int kAccumulators = 26;  // of 32 vector registers
constexpr int kMaxVectors = 5;     // 5 x 5 = 25 accumulators + 5 + 1 = 31
#else
constexpr int kAccumulators = 12;  // of 16 vector registers
constexpr int kMaxVectors = 2;
#endif

// The row counts a tile may have, largest first. 13 and 5 divide the ViT's 65 tokens, 16 and 8 a Swin
// window's 16; 4, 2 and 1 finish any other count.
constexpr int kRowTiles[] = {16, 13, 8, 5, 4, 2, 1};

// C tile (R, V * W) = (add ? C : 0) + a (R, K) @ b (K, V * W)
//   a(r, k) at a[r * a_row + k * a_col]; b(k, :) at b + k * ldb; c(r, :) at c + r * ldc
// (A's view comes as three numbers, not a MatrixView: a struct passed by value goes through the stack,
// and reading it back right after the caller wrote it stalled every call, 10% of attention's time.)
template <int R, int V>
void tile(int64_t K, const Scalar* a, int64_t a_row, int64_t a_col, const Scalar* b, int64_t ldb, Scalar* c,
          int64_t ldc, bool add) {
    Vec acc[R][V] = {};
    for (int64_t k = 0; k < K; ++k) {
        Vec b_row[V];
        for (int v = 0; v < V; ++v) std::memcpy(&b_row[v], b + k * ldb + v * W, sizeof(Vec));
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r) {
            const Vec a_r = a[r * a_row + k * a_col] - Vec{};  // broadcast a(r, k)
            for (int v = 0; v < V; ++v) acc[r][v] += a_r * b_row[v];
        }
    }
    // C added first, in a loop of its own, then stored: with `if (add)` inside the store loop GCC kept
    // every accumulator on the stack in the AVX2 build.
    if (add) {
#pragma GCC unroll 16
        for (int r = 0; r < R; ++r)
            for (int v = 0; v < V; ++v) {
                Vec old;
                std::memcpy(&old, c + r * ldc + v * W, sizeof(Vec));
                acc[r][v] = old + acc[r][v];
            }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
        for (int v = 0; v < V; ++v) std::memcpy(c + r * ldc + v * W, &acc[r][v], sizeof(Vec));
}

// The rows of one column chunk of V vectors, cut into tiles.
template <int V>
void chunk(int64_t M, int64_t K, MatrixView A, const Scalar* b, int64_t ldb, Scalar* c, int64_t ldc, bool add) {
    constexpr int max_rows = kAccumulators / V;
    // The tile height: the largest allowed that divides M, so every tile is full; if only 1 does, the
    // largest allowed, and smaller tiles for the rows left at the end.
    int rows_per_tile = 1;
    for (int rows : kRowTiles)
        if (rows <= max_rows && M % rows == 0) {
            rows_per_tile = rows;
            break;
        }
    for (int64_t i = 0; i < M;) {
        int R = rows_per_tile;
        if (R == 1)
            for (int rows : kRowTiles)
                if (rows <= max_rows && rows <= M - i) {
                    R = rows;
                    break;
                }
        const Scalar* a = A.data + i * A.row_stride;
        const int64_t ar = A.row_stride, ac = A.col_stride;
        Scalar* c_rows = c + i * ldc;
        // One call per tile height; a height whose accumulators do not fit is never chosen above.
        switch (R) {
            case 16: if constexpr (16 * V <= kAccumulators) tile<16, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            case 13: if constexpr (13 * V <= kAccumulators) tile<13, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            case 8: if constexpr (8 * V <= kAccumulators) tile<8, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            case 5: if constexpr (5 * V <= kAccumulators) tile<5, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            case 4: tile<4, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            case 2: tile<2, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
            default: tile<1, V>(K, a, ar, ac, b, ldb, c_rows, ldc, add); break;
        }
        i += R;
    }
}

}  // namespace

void small_gemm(int64_t M, int64_t vectors, int64_t K, MatrixView A, const Scalar* B, int64_t ldb, Scalar* C,
                int64_t ldc, bool accumulate) {
    check(M >= 0 && vectors >= 0 && K >= 0, "small_gemm: sizes must be non-negative, got M=", M, " vectors=",
          vectors, " K=", K);
    // Columns in chunks of at most kMaxVectors vectors, each chunk a sweep over all M rows; the chunks
    // are as even as possible (9 vectors with AVX2: 1 + 2 + 2 + 2 + 2; 17 with NEON: 4 + 4 + 4 + 5).
    const int64_t chunks = (vectors + kMaxVectors - 1) / kMaxVectors;
    for (int64_t c0 = 0, done = 0; c0 < chunks; ++c0) {
        const int64_t width = (vectors - done) / (chunks - c0);  // vectors in this chunk
        const Scalar* b = B + done * W;
        Scalar* c = C + done * W;
        switch (width) {
            case 1: chunk<1>(M, K, A, b, ldb, c, ldc, accumulate); break;
            case 2: chunk<2>(M, K, A, b, ldb, c, ldc, accumulate); break;
#if defined(__AVX512F__) || defined(__aarch64__)
            case 3: chunk<3>(M, K, A, b, ldb, c, ldc, accumulate); break;
            case 4: chunk<4>(M, K, A, b, ldb, c, ldc, accumulate); break;
            case 5: chunk<5>(M, K, A, b, ldb, c, ldc, accumulate); break;
#endif
            default: break;  // never: width <= kMaxVectors
        }
        done += width;
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
