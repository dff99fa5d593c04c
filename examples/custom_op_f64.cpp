// custom_op_f64: define a new op, forward and backward, and check its backward with gradcheck; once with a
// planted bug, once right. docs/gradcheck.md ("Check your own op") quotes the part between the [custom-op]
// markers verbatim (tests/test_gradcheck_suite.cpp makes sure), and shows the two tables this prints.
//
// Built in the float64 flavour (the _f64 ending tells the Makefile), because a gradient check needs it.
// `make test` runs it: it exits with 1 unless the planted bug fails the check and the right backward passes.
//
//   build/examples/custom_op_f64
#include <iostream>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "examples/gradcheck/gradcheck_suite.h"

using namespace patchgrad;

// [custom-op]
// cube: out = x^3, elementwise.   x -> x.shape
//   d(x^3)/dx = 3 x^2, so   dx += dout * 3 x^2
Tensor cube(const Tensor& x, bool planted_bug = false) {
    Tensor out = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) out.data()[i] = x.data()[i] * x.data()[i] * x.data()[i];
    out.set_backward("cube", {x}, [x, planted_bug](const Tensor& dout) {
        if (!x.requires_grad()) return;
        Scalar* dx = x.grad_data();
        for (int64_t i = 0; i < x.numel(); ++i) {
            const Scalar xi = x.data()[i];
            const Scalar slope = planted_bug ? 3 * xi : 3 * xi * xi;  // the bug: one factor x forgotten
            dx[i] += dout.data()[i] * slope;
        }
    });
    return out;
}

// Central differences of sum(cube(x) * probe) against the backward above, for every element of x.
GradcheckSuiteRow check_cube(bool planted_bug) {
    Rng rng(0);
    Tensor x = Tensor::uniform({2, 3}, -1, 1, rng);
    x.requires_grad_(true);
    const GradcheckReport report =
        gradcheck([planted_bug](const std::vector<Tensor>& in) { return cube(in[0], planted_bug); }, {x});
    return gradcheck_row(planted_bug ? "cube (planted bug)" : "cube", report, {"x"});
}
// [/custom-op]

int main() {
    const GradcheckSuiteRow wrong = check_cube(/*planted_bug=*/true);
    const GradcheckSuiteRow right = check_cube(/*planted_bug=*/false);
    for (const GradcheckSuiteRow& row : {wrong, right})
        std::cout << format_gradcheck_table({row}, gradcheck_suite_settings()) << "\n"
                  << format_gradcheck_details(row) << "\n";
    if (wrong.passed || !right.passed) {
        std::cerr << "custom_op_f64: expected the planted bug to FAIL and the right backward to PASS\n";
        return 1;
    }
    return 0;
}
