// Grades examples/exercises/attention_backward.cpp: attention's backward for q, k and v.
#include <cmath>

#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo attention_backward_info{
    11,
    "attention_backward",
    "attention's backward",
    "docs/attention.md, section 6",
    "P = softmax(q k^T scale); dv = P^T dout; dP = dout v^T; dS = P * (dP - rowsum(dP * P)); "
    "dq = scale dS k; dk = scale dS^T q   (one (T, T) block per batch and head)",
    "you can run a whole attention layer backwards: two matrix products, a softmax and a scale, in the right order",
};

void grade_attention_backward(const AttentionBackward& learner_fn, Grader& grader) {
    // q, k, v (B, H, T, D), smallest first. T = 1: one key, whose probability is the constant 1, so
    // dq = dk = 0 and dv = dout. D = 1: each head a single number. The usual scale is D^-1/2; two cases draw
    // another, so a scale written into the code instead of read from the argument fails.
    struct Case {
        Shape shape;
        bool usual_scale;
    };
    const std::vector<Case> cases = {{{1, 1, 1, 1}, true}, {{1, 1, 1, 3}, true}, {{1, 1, 3, 1}, true},
                                     {{1, 1, 4, 2}, false}, {{1, 2, 3, 4}, true}, {{2, 2, 5, 3}, false}};
    for (const Case& c : cases) {
        const int64_t D = c.shape[3];
        // Drawn in [0.3, 1.2), with D <= 3 there: |q.k scale| < 4 D 1.2 < 15, far from a saturated softmax.
        const double usual = 1 / std::sqrt(static_cast<double>(D));
        const double scale = c.usual_scale ? usual : grader.random_int(300, 1199) / 1000.0;
        grader.begin_case(format_message("q, k, v ", c.shape, ", scale ", scale));
        const Tensor q = grader.random(c.shape);
        const Tensor k = grader.random(c.shape);
        const Tensor v = grader.random(c.shape);
        const Tensor dout = grader.random(c.shape);  // the probe: random, never all ones
        const AttentionGradients got = grader.call([&] { return learner_fn(q, k, v, dout, scale); });
        // The library's op, without a bias, as a function of one of q, k, v (the other two fixed).
        const auto attention = [scale](const Tensor& qq, const Tensor& kk, const Tensor& vv) {
            return scaled_dot_product_attention(qq, kk, vv, Tensor(), scale);
        };
        const std::string source = "central differences of scaled_dot_product_attention through the probe dout";
        grader.expect_close("dv", got.dv, numeric_gradient([&](const Tensor& t) { return attention(q, k, t); }, v, dout),
                            kCentralDifferences, source);
        grader.expect_close("dq", got.dq, numeric_gradient([&](const Tensor& t) { return attention(t, k, v); }, q, dout),
                            kCentralDifferences, source);
        grader.expect_close("dk", got.dk, numeric_gradient([&](const Tensor& t) { return attention(q, t, v); }, k, dout),
                            kCentralDifferences, source);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
