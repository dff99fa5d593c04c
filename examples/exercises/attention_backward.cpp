// Exercise: attention's backward.                                make exercise NAME=attention_backward
//
// The forward (core/ops/attention.cpp, without a bias), for each batch b and head h separately, with
// q, k, v the (T, D) blocks of that pair (T tokens, D numbers per head):
//     S = q k^T * scale         (T, T)   the scores: query i against key j
//     P = softmax(S, -1)        (T, T)   each row sums to 1
//     out = P v                 (T, D)
// Your job: given q, k, v, scale and dout = dL/dout, return dL/dq, dL/dk and dL/dv.
//
// Hints, in the order you may want them:
//   1. Go backwards through the three lines, one at a time; recompute P from q and k first.
//   2. out = P v and S = q k^T are matrix products: if C = A B then dA = dC B^T and dB = A^T dC.
//   3. The middle line is softmax, row by row: dS = P * (dP - sum(dP * P, -1, keepdim)) (exercise 3).
//      Do not forget the scale on the way to q and k (docs/attention.md, section 6, derives all of it).
//   4. With ops, all four dimensions at once: matmul works on the last two and keeps (B, H) in front;
//      transpose(t, -2, -1) swaps the last two; softmax(t, -1); sum(t, -1, /*keepdim=*/true).
//
//   q, k, v, dout (B, H, T, D)  scale  ->  dq, dk, dv (B, H, T, D)
#include "examples/exercises/exercise.h"

namespace learner {

AttentionGradients attention_backward(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& dout,
                                      double scale) {
    // Your code here: compute dq, dk and dv and return {dq, dk, dv}.
    not_implemented("attention_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/attention_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, attention_backward_info,
                        [](Grader& grader) { grade_attention_backward(learner::attention_backward, grader); });
}
