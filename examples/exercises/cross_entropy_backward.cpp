// Exercise: cross-entropy with label smoothing, its gradient.   make exercise NAME=cross_entropy_backward
//
// The forward (core/ops/softmax.cpp), for logits (N, C) and targets (N) holding class numbers 0 .. C-1:
//     p[n] = softmax(logits[n])                                the model's distribution over classes
//     q[n, c] = (1 - s) [c == targets[n]] + s / C               the smoothed target, s = smoothing
//     loss = (1/N) sum_n  - sum_c q[n, c] log p[n, c]           a mean over the rows
// Your job: return dloss/dlogits (N, C).
//
// Hints, in the order you may want them:
//   1. Write log p_c = x_c - log sum_j e^(x_j) and use sum_c q_c = 1: one row's loss becomes
//      log sum_j e^(x_j) - sum_c q_c x_c (docs/layers_math.md, section 3).
//   2. Differentiate that: the first term gives p_c, the second q_c.
//   3. Do not forget the mean over rows. Class numbers are stored as doubles: static_cast<int64_t>.
//
//   logits (N, C)  targets (N)  smoothing in [0, 1]  ->  dlogits (N, C)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, double smoothing) {
    // Your code here: compute dlogits and return it.
    not_implemented("cross_entropy_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/cross_entropy_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, cross_entropy_backward_info, [](Grader& grader) {
        grade_cross_entropy_backward(learner::cross_entropy_backward, grader);
    });
}
