// Grades examples/exercises/permute_backward.cpp: a movement op's backward is the inverse movement.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo permute_backward_info{
    5,
    "permute_backward",
    "permute's backward: the inverse permutation",
    "docs/ops_movement.md, section 3",
    "dx = permute(dout, inverse) with inverse[dims[d]] = d: each gradient goes back where its value came from",
    "a movement op's backward sends every gradient back to where its value came from",
};

void grade_permute_backward(const PermuteBackward& learner_fn, Grader& grader) {
    // (x shape, dims), smallest first; the 3-cycles are the cases where dims and its inverse differ.
    const std::vector<std::pair<Shape, std::vector<int64_t>>> cases = {
        {{2, 3}, {1, 0}}, {{2, 3, 4}, {0, 2, 1}}, {{2, 3, 4}, {1, 2, 0}}, {{2, 3, 4}, {2, 0, 1}},
        {{2, 1, 3, 2}, {3, 1, 0, 2}}, {{2, 3, 2, 4}, {0, 2, 1, 3}}};
    for (const auto& shape_and_dims : cases) {
        const Shape& shape = shape_and_dims.first;
        const std::vector<int64_t>& dims = shape_and_dims.second;  // (clang < 16 cannot capture a structured binding)
        std::string dims_text = "{";
        for (size_t d = 0; d < dims.size(); ++d) dims_text += (d ? ", " : "") + std::to_string(dims[d]);
        grader.begin_case("x " + to_string(shape) + ", dims " + dims_text + "}");
        Tensor x = grader.random(shape).requires_grad_();
        Tensor out = permute(x, dims);
        const Tensor dout = grader.random(out.shape());
        out.backward(dout);
        const Tensor dx = grader.call([&] { return learner_fn(dout, dims); });
        grader.expect_close("dx", dx, x.grad(), kExact, "the library's permute backward (values are only moved)");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
