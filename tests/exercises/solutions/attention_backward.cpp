// A reference solution of examples/exercises/attention_backward.cpp, kept apart from the skeleton.
// docs/attention.md, section 6, with ops over all (batch, head) pairs at once.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

AttentionGradients attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout,
                                      double scale) {
    const Tensor P = softmax(matmul(q, transpose(k, -2, -1)) * scale, -1);  // (B, H, T, T)
    const Tensor dv = matmul(transpose(P, -2, -1), dout);                  // (T, T)^T (T, D) -> (T, D)
    const Tensor dP = matmul(dout, transpose(v, -2, -1));                  // (T, D) (D, T) -> (T, T)
    const Tensor dS = P * (dP - sum(dP * P, -1, /*keepdim=*/true));        // softmax's backward, per row
    const Tensor dq = matmul(dS, k) * scale;                               // (T, T) (T, D) -> (T, D)
    const Tensor dk = matmul(transpose(dS, -2, -1), q) * scale;            // (T, T)^T (T, D) -> (T, D)
    return {dq, dk, dv};
}

}  // namespace solution
