// Grades examples/exercises/convolution.cpp: a convolution as im2col (pad, strided slices, stack) and matmul.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo convolution_info{
    13,
    "convolution",
    "a convolution as one matrix product",
    "docs/convolution.md, section 6",
    "windows[b, i*Wo + j, (c*k + u)*k + v] = padded[b, c, i*s + u, j*s + v] (pad p zeros, then for each (u, v) "
    "the slice [u::s, v::s]); out = windows @ weight^T + bias",
    "you can copy every window of a padded image into a row with differentiable movement ops alone, so that a "
    "convolution of any stride and padding becomes one matrix product, through which gradients flow (im2col)",
};

void grade_convolution(const ConvolutionForward& learner_fn, Grader& grader) {
    // (B, C, H, W), kernel k, stride s, padding p, output channels E; smallest first. Overlapping windows
    // (s < k) and padding from the second case on; H != W, so swapped rows and columns show; the last case
    // is a patch embedding (k = s, no padding).
    struct Case {
        Shape images;
        int64_t k, s, p, E;
    };
    const std::vector<Case> cases = {{{1, 1, 3, 3}, 2, 1, 0, 1}, {{1, 1, 4, 4}, 3, 2, 1, 2}, {{1, 2, 5, 4}, 3, 1, 1, 3},
                                     {{2, 3, 6, 5}, 3, 2, 1, 4}, {{2, 2, 4, 6}, 2, 2, 0, 3}};
    for (const Case& c : cases) {
        const int64_t C = c.images[1], H = c.images[2], W = c.images[3], k = c.k, s = c.s, p = c.p, E = c.E;
        const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
        grader.begin_case("images " + to_string(c.images) + ", k " + std::to_string(k) + ", s " + std::to_string(s) +
                          ", p " + std::to_string(p) + ", E " + std::to_string(E));
        const Tensor images = grader.random(c.images);
        const Tensor weight = grader.random({E, C * k * k});  // (E, C*k*k): a Conv2d's (E, C, k, k), flat
        const Tensor bias = grader.random({E});               // never zero: a forgotten bias shows
        const Tensor out = grader.call([&] { return learner_fn(images, weight, bias, k, s, p); });
        grader.expect_shape("out", out, {c.images[0], Ho * Wo, E});
        grader.expect_close("out", out, linear(unfold(images, k, s, p), weight, bias), kSameMath,
                            "linear(unfold(images, k, s, p), weight, bias), core/ops.h");
        grader.expect_gradients_flow(
            "out", [&](const std::vector<Tensor>& in) { return learner_fn(in[0], in[1], in[2], k, s, p); },
            {images, weight, bias}, {"images", "weight", "bias"});
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
