// Grades examples/exercises/gelu_backward.cpp: GELU's derivative, applied to an incoming gradient.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo gelu_backward_info{
    9,
    "gelu_backward",
    "GELU's backward",
    "docs/layers_math.md, section 4",
    "dx = dout * (Phi(x) + x phi(x)), Phi(x) = 0.5 (1 + erf(x / sqrt 2)), phi(x) = e^(-x^2/2) / sqrt(2 pi)",
    "the exact GELU's derivative is Phi(x) + x phi(x), the product rule on x Phi(x), negative below x = -0.7518",
};

void grade_gelu_backward(const GeluBackward& learner_fn, Grader& grader) {
    // Inputs in [-4, 4): both tails and the negative slope between -4 and -0.75.
    const std::vector<Shape> shapes = {{1}, {5}, {3, 4}, {2, 3, 7}};
    for (const Shape& shape : shapes) {
        grader.begin_case("x " + to_string(shape));
        const Tensor x = grader.random(shape, -4, 4);
        const Tensor dout = grader.random(shape);
        const Tensor dx = grader.call([&] { return learner_fn(x, dout); });
        grader.expect_close("dx", dx, numeric_gradient([](const Tensor& t) { return gelu(t); }, x, dout),
                            kCentralDifferences, "central differences of gelu through the probe dout");
    }
    // The one point everyone can check by hand: gelu'(0) = Phi(0) + 0 = 1/2.
    grader.begin_case("x = 0, dout = 1");
    const Tensor at_zero = grader.call([&] { return learner_fn(Tensor::zeros({1}), Tensor::ones({1})); });
    grader.expect_close("dx", at_zero, Tensor::full({1}, 0.5), kSameMath, "gelu'(0) = Phi(0) = 1/2 exactly");
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
