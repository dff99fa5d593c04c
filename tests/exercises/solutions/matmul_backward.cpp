// A reference solution of examples/exercises/matmul_backward.cpp, kept apart from the skeleton.
//   out[i][j] = sum_k a[i][k] b[k][j]  =>  da[i][k] = sum_j dout[i][j] b[k][j],  db[k][j] = sum_i a[i][k] dout[i][j]
#include "tests/exercises/solutions/solutions.h"

namespace solution {

// reduce_to: exercise 1's sum over the broadcast dimensions (broadcast_mul_backward.cpp).
std::pair<Tensor, Tensor> matmul_backward(const Tensor& a, const Tensor& b, const Tensor& dout) {
    const Tensor da = matmul(dout, transpose(b, -2, -1));  // (.., M, N) @ (.., N, K) -> (.., M, K)
    const Tensor db = matmul(transpose(a, -2, -1), dout);  // (.., K, M) @ (.., M, N) -> (.., K, N)
    return {reduce_to(da, a.shape()), reduce_to(db, b.shape())};
}

}  // namespace solution
