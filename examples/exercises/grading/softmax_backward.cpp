// Grades examples/exercises/softmax_backward.cpp: softmax's backward, given its output.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo softmax_backward_info{
    10,
    "softmax_backward",
    "softmax's backward",
    "docs/attention.md, section 6",
    "dx = y * (dy - sum(dy * y, -1, keepdim=true)): the Jacobian diag(y) - y y^T applied to dy, row by row",
    "softmax's backward needs only its output y, and that your dx matches central differences of softmax",
};

void grade_softmax_backward(const SoftmaxBackward& learner_fn, Grader& grader) {
    // Smallest first, so the case a failure reports is the smallest that fails. (1, 1): a single class,
    // whose softmax is the constant 1 and whose gradient is exactly 0.
    const std::vector<Shape> shapes = {{1, 1}, {1, 2}, {3, 4}, {2, 3, 5}, {4, 1, 7}};
    for (const Shape& shape : shapes) {
        grader.begin_case("x " + to_string(shape));
        const Tensor x = grader.random(shape);
        const Tensor dy = grader.random(shape);  // the probe: random, never all ones
        const Tensor y = softmax(x, -1);
        const Tensor dx = grader.call([&] { return learner_fn(y, dy); });
        grader.expect_close("dx", dx, numeric_gradient([](const Tensor& t) { return softmax(t, -1); }, x, dy),
                            kCentralDifferences, "central differences of softmax(x, -1) through the probe dy");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
