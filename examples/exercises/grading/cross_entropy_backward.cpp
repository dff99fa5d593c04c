// Grades examples/exercises/cross_entropy_backward.cpp: cross-entropy with label smoothing, its gradient.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo cross_entropy_backward_info{
    8,
    "cross_entropy_backward",
    "cross-entropy with label smoothing: the gradient of the mean loss",
    "docs/layers_math.md, section 3",
    "dlogits[n, c] = (p[n, c] - q[n, c]) / N, p = softmax(logits[n]), q = (1 - s) onehot(t_n) + s / C",
    "the gradient of softmax + cross-entropy is prediction minus (smoothed) target, divided by the batch size",
};

void grade_cross_entropy_backward(const CrossEntropyBackward& learner_fn, Grader& grader) {
    // (N, C, smoothing), smallest first; a smoothing of 1 makes the target uniform.
    struct Case {
        int64_t N, C;
        double smoothing;
    };
    const std::vector<Case> cases = {{1, 2, 0.0}, {1, 3, 0.1}, {3, 4, 0.0}, {4, 5, 0.2}, {6, 3, 1.0}, {8, 10, 0.1}};
    for (const Case& c : cases) {
        grader.begin_case("logits (" + std::to_string(c.N) + ", " + std::to_string(c.C) + "), smoothing " +
                          std::to_string(c.smoothing));
        const Tensor logits = grader.random({c.N, c.C}, -3, 3);
        Tensor targets = Tensor::empty({c.N});
        for (int64_t n = 0; n < c.N; ++n) targets.data()[n] = static_cast<Scalar>(grader.random_int(0, c.C - 1));
        const Tensor dlogits = grader.call([&] { return learner_fn(logits, targets, c.smoothing); });
        // The loss is a scalar, so the probe is one number: dL/dloss = 1.
        grader.expect_close(
            "dlogits", dlogits,
            numeric_gradient([&](const Tensor& t) { return cross_entropy(t, targets, c.smoothing); }, logits,
                             Tensor::ones({})),
            kCentralDifferences, "central differences of cross_entropy(logits, targets, smoothing)");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
