// Exercise: GELU's backward.                                     make exercise NAME=gelu_backward
//
// The forward (core/ops/activation.cpp), elementwise, the exact form of the ViT paper:
//     gelu(x) = x Phi(x),    Phi(x) = 0.5 (1 + erf(x / sqrt 2))    the standard normal CDF
// Your job: given x and dout = dL/dout, return dx = dL/dx.
//
// Hints, in the order you may want them:
//   1. The product rule on x Phi(x).
//   2. Phi' is the standard normal density phi(x) = e^(-x^2/2) / sqrt(2 pi): the derivative of a CDF is
//      its density (docs/layers_math.md, section 4, derives it from d erf/dz = 2/sqrt(pi) e^(-z^2)).
//   3. std::erf and std::exp over x.data(), one element at a time; M_PI is pi.
//
//   x, dout (any shape, the same)  ->  dx (that shape)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor gelu_backward(const Tensor& x, const Tensor& dout) {
    // Your code here: compute dx and return it.
    not_implemented("gelu_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/gelu_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, gelu_backward_info,
                        [](Grader& grader) { grade_gelu_backward(learner::gelu_backward, grader); });
}
