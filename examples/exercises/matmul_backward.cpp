// Exercise: the matrix product's backward.                      make exercise NAME=matmul_backward
//
// The forward (core/ops/matmul.cpp): out = a @ b for a (.., M, K) and b (.., K, N), both at least 2-D here.
// The leading (batch) dimensions broadcast like an elementwise op's: a (3, M, K) @ b (K, N) uses the same b
// for all three matrices of a, which is how a linear layer applies one weight to a batch.
// Your job: given a, b and dout = dL/dout (.., M, N), return (da, db), each of its input's shape.
//
// Hints, in the order you may want them:
//   1. For plain matrices, out[i][j] = sum_k a[i][k] b[k][j]. Differentiate by a[i][k] and by b[k][j]
//      (docs/layers_math.md, section 1, does this for linear).
//   2. Written as products: da = dout @ b^T (M,N)@(N,K), db = a^T @ dout (K,M)@(M,N). matmul and
//      transpose(t, -2, -1) work batch by batch.
//   3. If an operand was broadcast over the batch, its gradient has the batch's shape: sum it back over
//      the batch dimensions it was stretched along (exercise 1, broadcast_mul_backward, did the same).
//
//   a (.., M, K)  b (.., K, N)  dout (.., M, N)  ->  da (a's shape), db (b's shape)
#include "examples/exercises/exercise.h"

namespace learner {

std::pair<Tensor, Tensor> matmul_backward(const Tensor& a, const Tensor& b, const Tensor& dout) {
    // Your code here: compute da and db and return {da, db}.
    not_implemented("matmul_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/matmul_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, matmul_backward_info,
                        [](Grader& grader) { grade_matmul_backward(learner::matmul_backward, grader); });
}
