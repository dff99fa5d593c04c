// Grades examples/exercises/broadcast_mul_backward.cpp: the backward of a broadcasting product.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo broadcast_mul_backward_info{
    4,
    "broadcast_mul_backward",
    "the backward of a * b with broadcasting",
    "docs/ops_elementwise.md, section Why the backward of a broadcast is a sum",
    "da = (dout * b) summed over the dimensions where a was stretched (or added in front), reshaped to a's "
    "shape; db likewise with a",
    "a broadcast operand's gradient is dout summed over the dimensions it was stretched along",
};

void grade_broadcast_mul_backward(const BroadcastMulBackward& learner_fn, Grader& grader) {
    // (a shape, b shape), smallest first: no broadcast, a stretched row, a column against a row, a missing
    // leading dimension, a scalar-shaped operand, and stretching in the middle.
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3}, {3}}, {{2, 3}, {3}}, {{2, 1}, {1, 3}}, {{3}, {2, 3}}, {{}, {2, 2}}, {{2, 1, 4}, {3, 1}}, {{2, 3, 4}, {2, 1, 4}}};
    for (const auto& [a_shape, b_shape] : cases) {
        grader.begin_case("a " + to_string(a_shape) + " * b " + to_string(b_shape));
        const Tensor a = grader.random(a_shape);
        const Tensor b = grader.random(b_shape);
        const Tensor dout = grader.random(broadcast_shapes(a_shape, b_shape, "mul"));
        const auto [da, db] = grader.call([&] { return learner_fn(a, b, dout); });
        const std::string source = "central differences of a * b through the probe dout";
        grader.expect_close("da", da, numeric_gradient([&](const Tensor& t) { return t * b; }, a, dout),
                            kCentralDifferences, source);
        grader.expect_close("db", db, numeric_gradient([&](const Tensor& t) { return a * t; }, b, dout),
                            kCentralDifferences, source);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
