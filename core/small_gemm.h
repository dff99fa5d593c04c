#pragma once
// small_gemm: a product small enough to live in the L1 cache, whose columns are whole vectors.
//                                                                       docs/matmul.md, section 8
//
//   C (M, N) = (accumulate ? C : 0) + A (M, K) @ B (K, N),    N = vectors * W  (W = kVectorLanes)
//
// gemm (core/gemm.h) is built for products that do not fit in the caches: it packs B, blocks K and N,
// and shares the tiles out among threads. For attention's products of one (batch, head) pair, 65 x 65 x 32
// or 16 x 16 x 32, all of that is overhead: the operands are already in L1, and gemm's 13 x 32 tile leaves
// most of a 16-token product empty. small_gemm is gemm's micro-kernel alone, with the tile shaped to
// the product (rows x vectors, as many accumulators as the registers hold) and no copies, no threads:
//   A is read where it lies, through a MatrixView (any strides);
//   B's rows are read where they lie, ldb apart, N = vectors * W numbers each (the caller pads B);
//   C's rows are ldc apart, N numbers each.
// Every C element sums k = 0, 1, ..., K-1 in one register lane, then adds C if accumulating: the same
// order as gemm_reference, whatever the shape of the tiles.
#include <cstdint>

#include "gemm.h"
#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

void small_gemm(int64_t M, int64_t vectors, int64_t K, MatrixView A, const Scalar* B, int64_t ldb, Scalar* C,
                int64_t ldc, bool accumulate);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
