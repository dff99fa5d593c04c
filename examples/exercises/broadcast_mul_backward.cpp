// Exercise: the backward of a broadcasting product.           make exercise NAME=broadcast_mul_backward
//
// The forward (core/ops/elementwise.cpp): out = a * b, where the shapes broadcast as in NumPy and PyTorch:
// aligned on the right, and a dimension of size 1, or a missing one, stretches to the other's size.
//     a (2, 1, 4) * b (3, 1)  ->  out (2, 3, 4)
// Your job: given a, b and dout = dL/dout (out's shape), return (da, db), each of its input's shape.
//
// Hints, in the order you may want them:
//   1. Elementwise, d out / d a = b. So da "is" dout * b, but that has out's shape, not a's.
//   2. An element of a that was stretched was used by several elements of out: its gradient is the sum of
//      theirs (docs/ops_elementwise.md, "Why the backward of a broadcast is a sum").
//   3. Sum over the leading dimensions that a lacks, then, with keepdim, over every dimension where a has
//      size 1 and out does not: sum(t, dim, /*keepdim=*/true), then reshape(t, a.shape()). Do not call
//      sum_to_shape: it is the answer.
//
//   a, b (broadcastable), dout (the broadcast shape)  ->  da (a's shape), db (b's shape)
#include "examples/exercises/exercise.h"

namespace learner {

std::pair<Tensor, Tensor> broadcast_mul_backward(const Tensor& a, const Tensor& b, const Tensor& dout) {
    // Your code here: compute da and db and return {da, db}.
    not_implemented("broadcast_mul_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/broadcast_mul_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, broadcast_mul_backward_info, [](Grader& grader) {
        grade_broadcast_mul_backward(learner::broadcast_mul_backward, grader);
    });
}
