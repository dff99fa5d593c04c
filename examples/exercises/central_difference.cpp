// Exercise: measure a gradient.                                   make exercise NAME=central_difference
//
// Every backward in patchgrad is checked against a gradient measured without calculus (docs/gradcheck.md).
// For a function f and a probe p of f's output shape, take the scalar L(x) = sum(f(x) * p). Then
//     dL/dx_j  ~  (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)          e_j: 1 at element j, 0 elsewhere
// Your job: this measurement, for every element of x. x is passed by reference so you can nudge its
// elements in place; it must come back exactly as it was.
//
// Hints, in the order you may want them:
//   1. L(x) is a loop: Tensor out = f(x); sum over i of out.data()[i] * probe.data()[i].
//   2. For each j: save x.data()[j], set it to saved + eps, measure, to saved - eps, measure, restore it.
//   3. Why both sides? Taylor: the one-sided difference is off by O(eps), the central one by O(eps^2).
//
//   f, x (any shape), probe (f(x)'s shape), eps  ->  gradient (x's shape)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor central_difference(const std::function<Tensor(const Tensor&)>& f, Tensor& x, const Tensor& probe, double eps) {
    // Your code here: measure every element's gradient and return them.
    not_implemented("central_difference");
}

}  // namespace learner

// The grader (examples/exercises/grading/central_difference.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, central_difference_info,
                        [](Grader& grader) { grade_central_difference(learner::central_difference, grader); });
}
