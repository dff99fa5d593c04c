// Grades examples/exercises/tanh_op.cpp: an op of the learner's own, recorded in the autograd graph.
#include "examples/exercises/grading/exercises.h"

#include "core/gradcheck.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo tanh_op_info{
    2,
    "tanh_op",
    "an op of your own: forward, backward closure, set_backward",
    "docs/autograd.md",
    "y = tanh(x); out.set_backward(\"tanh_op\", {x}, [x, y](const Tensor& dout) { x.grad_data()[i] += dout[i] * "
    "(1 - y[i]^2) }), with y = out.detach()",
    "you can add an op to the autograd engine: its closure adds (+=) its share into the input's gradient, so "
    "a value used twice gets both shares",
};

void grade_tanh_op(const TanhOp& learner_fn, Grader& grader) {
    const std::vector<Shape> shapes = {{1}, {4}, {2, 3}, {2, 3, 4}};
    for (const Shape& shape : shapes) {
        grader.begin_case("x " + to_string(shape));
        Tensor x = grader.random(shape, -2.5, 2.5);
        Tensor y;
        {
            NoGradGuard no_grad;  // values first, with no graph
            y = grader.call([&] { return learner_fn(x); });
        }
        grader.expect_close("tanh_op(x)", y, tanh(x), kSameMath, "the library's tanh");

        x.requires_grad_();
        const Tensor recorded = grader.call([&] { return learner_fn(x); });
        grader.expect_true(recorded.requires_grad(),
                           "tanh_op(x) for an x that requires grad does not require grad: was set_backward called "
                           "with {x} as the inputs?");
        // The probe: every output element gets its own random weight.
        const GradcheckReport report =
            gradcheck([&](const std::vector<Tensor>& in) { return grader.call([&] { return learner_fn(in[0]); }); },
                      {x}, GradcheckOptions{1e-6, 1e-6, 1e-5, grader.seed()});
        grader.expect_true(report.passed, "the gradient that tanh_op's backward adds into x.grad disagrees with "
                                          "central differences:\n    " + report.message());

        // Used twice: both uses add their share into the same x.grad. A closure that assigns (=) instead of
        // adding (+=) keeps only the last share.
        const Tensor probe = grader.random(shape);
        Tensor twice = grader.call([&] { return learner_fn(x) + learner_fn(x); });
        sum(twice * probe).backward();
        const Tensor expected = 2 * probe * (1 - tanh(x) * tanh(x));
        grader.expect_close("x.grad after tanh_op(x) + tanh_op(x)", x.grad(), expected, kSameMath,
                            "2 * probe * (1 - tanh(x)^2): both uses add their share");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
