#pragma once
// gemm: the matrix-multiply kernel under matmul, linear and attention.      docs/matmul.md explains it.
//
//   C (M, N) = (accumulate ? C : 0) + A (M, K) @ B (K, N)
//
// Dimension legend: M rows of A and C, N columns of B and C, K the inner (summed) dimension.
// C is row-major with leading dimension ldc: C(i, j) lives at C[i * ldc + j].
// A and B are read through MatrixViews (pointer + two strides), so a transposed operand costs nothing:
// the backward of out = a @ b calls
//     da += dout @ b^T    gemm(M, K, N, dout, {b, 1, N}, da, K, true)     b is (K, N) row-major
//     db += a^T @ dout    gemm(K, N, M, {a, 1, K}, dout, db, N, true)     a is (M, K) row-major
//
// Results are bit-identical whatever the number of OpenMP threads: every C element sums its K terms in
// the same order however the work is split. C must not overlap A or B.
#include <cstdint>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// One operand of a matrix product: a pointer and its two strides (in elements), so a transposed
// operand is the same memory with the strides swapped: A^T of a row-major (K,M) matrix is {data, 1, M}.
struct MatrixView {
    const Scalar* data;
    int64_t row_stride;
    int64_t col_stride;
};

// C (M,N), row-major with leading dimension ldc:  C = (accumulate ? C : 0) + A (M,K) @ B (K,N)
// Runs on all OpenMP threads, or serially when called from inside a parallel region.
// row_bias (N), when given, is added to every row after the sum: C(i, j) = (... + sum_k A B) + row_bias[j],
// the bias of a linear layer, added as each tile of C is stored instead of in a second pass over C (the
// same additions in the same order, so the same bits as gemm followed by a bias loop).
void gemm(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc, bool accumulate,
          const Scalar* row_bias = nullptr);

// `batch` independent products; operand i starts at data + i * stride (a stride of 0 broadcasts the operand).
//   C_i (M, N) = (accumulate ? C_i : 0) + A_i (M, K) @ B_i (K, N),   C_i = C + i * c_batch_stride
// Chooses the parallel split itself: across the batch when there are many small products (e.g. attention:
// 512 products of (65,32)@(32,65)), inside each product when they are few and large.
// c_batch_stride = 0 sums all products into one C, in batch order (C = (accumulate ? C : 0) + sum_i A_i B_i).
void gemm_batched(int64_t batch, int64_t M, int64_t N, int64_t K,
                  MatrixView A, int64_t a_batch_stride, MatrixView B, int64_t b_batch_stride,
                  Scalar* C, int64_t ldc, int64_t c_batch_stride, bool accumulate);

// The textbook triple loop, the reference the tests hold the fast kernel against.
void gemm_reference(int64_t M, int64_t N, int64_t K, MatrixView A, MatrixView B, Scalar* C, int64_t ldc, bool accumulate,
                    const Scalar* row_bias = nullptr);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
