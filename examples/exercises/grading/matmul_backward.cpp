// Grades examples/exercises/matmul_backward.cpp: the matrix product's backward, batch dimensions included.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo matmul_backward_info{
    6,
    "matmul_backward",
    "the matrix product's backward, with a broadcast batch",
    "docs/layers_math.md, section 1",
    "da = dout @ b^T, db = a^T @ dout, each then summed over the batch dimensions its operand was broadcast along",
    "the two products of matmul's backward, and that a weight shared by a batch gets the batch's summed gradient",
};

void grade_matmul_backward(const MatmulBackward& learner_fn, Grader& grader) {
    // (a shape, b shape), smallest first: plain matrices, a batch on both sides, b shared by a batch (as a
    // linear layer's weight is), a shared by b's batch, and a broadcast inside the batch dimensions.
    const std::vector<std::pair<Shape, Shape>> cases = {{{1, 1}, {1, 1}}, {{2, 3}, {3, 4}},   {{2, 2, 3}, {2, 3, 2}},
                                                        {{3, 2, 4}, {4, 3}}, {{2, 5}, {3, 5, 2}}, {{2, 1, 3, 2}, {4, 2, 3}}};
    for (const auto& [a_shape, b_shape] : cases) {
        grader.begin_case("a " + to_string(a_shape) + " @ b " + to_string(b_shape));
        const Tensor a = grader.random(a_shape);
        const Tensor b = grader.random(b_shape);
        const Tensor dout = grader.random(matmul(a, b).shape());
        const auto [da, db] = grader.call([&] { return learner_fn(a, b, dout); });
        const std::string source = "central differences of matmul(a, b) through the probe dout";
        grader.expect_close("da", da, numeric_gradient([&](const Tensor& t) { return matmul(t, b); }, a, dout),
                            kCentralDifferences, source);
        grader.expect_close("db", db, numeric_gradient([&](const Tensor& t) { return matmul(a, t); }, b, dout),
                            kCentralDifferences, source);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
