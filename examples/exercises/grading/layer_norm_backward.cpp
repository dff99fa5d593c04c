// Grades examples/exercises/layer_norm_backward.cpp: LayerNorm's backward for x, weight and bias.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo layer_norm_backward_info{
    7,
    "layer_norm_backward",
    "LayerNorm's backward",
    "docs/layers_math.md, section 2",
    "dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = weight * dout; dweight = sum_rows dout xhat; "
    "dbias = sum_rows dout",
    "you can differentiate through a normalisation: both mean terms, and the parameters shared by every row",
};

void grade_layer_norm_backward(const LayerNormBackward& learner_fn, Grader& grader) {
    // Random weight and bias, never 1 and 0: with those defaults sum(layer_norm(x)) is 0 for every x, and a
    // backward that returns zeros would pass a check through a plain sum.
    const std::vector<Shape> shapes = {{1, 2}, {2, 3}, {3, 5}, {2, 3, 8}, {1, 4, 1, 6}};
    for (const Shape& shape : shapes) {
        const double eps = shape.back() == 2 ? 0.5 : 1e-5;  // a large eps once: it must appear in rstd
        grader.begin_case("x " + to_string(shape) + ", eps " + std::to_string(eps));
        const int64_t C = shape.back();
        const Tensor x = grader.random(shape);
        const Tensor weight = grader.random_away_from_zero({C});
        const Tensor bias = grader.random({C});
        const Tensor dout = grader.random(shape);
        const LayerNormGradients got = grader.call([&] { return learner_fn(x, weight, dout, eps); });
        const std::string source = "central differences of layer_norm through the probe dout";
        grader.expect_close("dx", got.dx,
                            numeric_gradient([&](const Tensor& t) { return layer_norm(t, weight, bias, eps); }, x, dout),
                            kCentralDifferences, source);
        grader.expect_close("dweight", got.dweight,
                            numeric_gradient([&](const Tensor& w) { return layer_norm(x, w, bias, eps); }, weight, dout),
                            kCentralDifferences, source);
        grader.expect_close("dbias", got.dbias,
                            numeric_gradient([&](const Tensor& b) { return layer_norm(x, weight, b, eps); }, bias, dout),
                            kCentralDifferences, source);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
