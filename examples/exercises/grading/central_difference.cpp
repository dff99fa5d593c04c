// Grades examples/exercises/central_difference.cpp: measuring a gradient, the check behind every other grade.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo central_difference_info{
    3,
    "central_difference",
    "measure a gradient by central differences",
    "docs/gradcheck.md, section The check",
    "grad_j = (L(x + eps e_j) - L(x - eps e_j)) / (2 eps), L(x) = sum(f(x) * probe); put x_j back after each j",
    "you can measure any gradient without calculus, to O(eps^2), which is how every backward here is checked",
};

void grade_central_difference(const CentralDifference& learner_fn, Grader& grader) {
    // eps = 1e-3 on purpose: large enough that a one-sided difference, off by O(eps), is caught, and small
    // enough that the central one, off by O(eps^2) ~ 1e-6, passes.
    const double eps = 1e-3;
    const Tolerance tolerance{2e-5, 1e-4, "central differences with eps 1e-3: error about eps^2 / 6 times f'''"};
    struct Case {
        const char* name;
        Shape shape;
        std::function<Tensor(const Tensor&)> f;
    };
    const Tensor w = grader.random({4, 3});
    const std::vector<Case> cases = {
        {"tanh(x), x (1,)", {1}, [](const Tensor& x) { return tanh(x); }},
        {"x * x * x, x (5,)", {5}, [](const Tensor& x) { return x * x * x; }},
        {"softmax(x, -1), x (2, 4)", {2, 4}, [](const Tensor& x) { return softmax(x, -1); }},
        {"sum(x @ w, -1), x (3, 4)", {3, 4}, [w](const Tensor& x) { return sum(matmul(x, w), -1); }},
    };
    for (const Case& c : cases) {
        grader.begin_case(c.name);
        Tensor x = grader.random(c.shape, -1.5, 1.5);
        const Tensor x_before = x.clone();
        const Tensor probe = grader.random(c.f(x).shape());
        const Tensor got = grader.call([&] { return learner_fn(c.f, x, probe, eps); });
        grader.expect_close("x after the call", x, x_before, kExact, "x as it was passed in: put each element back");
        // The truth: the library's analytic gradient of sum(f(x) * probe).
        Tensor leaf = x_before.clone().requires_grad_();
        sum(c.f(leaf) * probe).backward();
        grader.expect_close("gradient", got, leaf.grad(), tolerance, "the analytic gradient from backward()");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
