// Exercise: softmax's backward.                                  make exercise NAME=softmax_backward
//
// The forward (core/ops/softmax.cpp), along the last dimension of a row of C numbers:
//     y_i = e^{x_i} / sum_j e^{x_j}
// Your job: given the output y and the gradient dy = dL/dy, return dx = dL/dx.
//
// Hints, in the order you may want them:
//   1. Differentiate y_i with respect to x_j. Two cases: i == j and i != j (docs/attention.md, section 6).
//   2. dx_j = sum_i dy_i dy_i/dx_j. Write it with y only: you never need x.
//   3. With ops: mul, sub, sum(t, -1, /*keepdim=*/true) broadcast back over the row. Or with loops over
//      y.data(), row by row: rows = y.numel() / C, C = y.size(-1).
//
//   y, dy (.., C)  ->  dx (.., C)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
    // Your code here: compute dx and return it.
    not_implemented("softmax_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/softmax_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, softmax_backward_info,
                        [](Grader& grader) { grade_softmax_backward(learner::softmax_backward, grader); });
}
