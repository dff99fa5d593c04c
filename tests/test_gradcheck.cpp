// gradcheck itself (core/gradcheck.cpp): it must pass correct backwards and catch wrong ones, including
// the bugs a plain sum() loss would hide.
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// y = x * w for a fixed weight vector w, with a backward that can be broken on purpose.
enum class Bug { none, wrong_factor, wrong_routing };

Tensor scale_by_weights(const Tensor& x, const std::vector<Scalar>& w, Bug bug) {
    const int64_t n = x.numel();
    Tensor y = Tensor::empty(x.shape());
    for (int64_t i = 0; i < n; ++i) y.data()[i] = x.data()[i] * w[i];
    y.set_backward("scale_by_weights", {x}, [x, w, n, bug](const Tensor& dy) {
        Scalar* dx = x.grad_data();
        for (int64_t i = 0; i < n; ++i) {
            switch (bug) {
                case Bug::none: dx[i] += dy.data()[i] * w[i]; break;                // dy_i/dx_i = w_i
                case Bug::wrong_factor: dx[i] += dy.data()[i] * w[i] * 1.01; break;  // 1% too large
                case Bug::wrong_routing: dx[i] += dy.data()[n - 1 - i] * w[i]; break;  // dy from the mirror
            }
        }
    });
    return y;
}

}  // namespace

TEST_CASE("gradcheck passes a correct backward and reports what it checked") {
    Tensor x = random_tensor({4}, 1);
    const std::vector<Scalar> w{1, 2, 3, 4};
    const GradcheckReport report =
        gradcheck([&](const std::vector<Tensor>& in) { return scale_by_weights(in[0], w, Bug::none); }, {x});
    CHECK(report.passed);
    REQUIRE(report.inputs.size() == 1);
    CHECK(report.inputs[0].checked == 4);
    CHECK(report.inputs[0].max_abs_error < 1e-8);
    CHECK(report.message() == "gradcheck passed");
    CHECK_FALSE(x.grad().defined());  // the inputs' own gradients are left as they were
}

TEST_CASE("gradcheck catches a backward that is 1% off, naming the input and the element") {
    Tensor x = random_tensor({4}, 1);
    const std::vector<Scalar> w{1, 2, 3, 4};
    const GradcheckReport report = gradcheck(
        [&](const std::vector<Tensor>& in) { return scale_by_weights(in[0], w, Bug::wrong_factor); }, {x});
    CHECK_FALSE(report.passed);
    CHECK(contains(report.message(), "input 0 (4,) element 0"));
    CHECK(contains(report.message(), "analytic"));
}

TEST_CASE("the random probe catches gradients sent to the wrong elements, which a plain sum misses") {
    // With dL/dy = 1 everywhere (a plain sum) the mirrored dy is still all ones and dx = w looks right.
    Tensor x = random_tensor({4}, 2);
    const std::vector<Scalar> w{1, 2, 3, 4};
    Tensor y = scale_by_weights(x, w, Bug::wrong_routing);
    y.backward(Tensor::ones({4}));
    check_values(x.grad(), {4}, {1, 2, 3, 4});  // fooled
    x.zero_grad();
    const GradcheckReport report = gradcheck(
        [&](const std::vector<Tensor>& in) { return scale_by_weights(in[0], w, Bug::wrong_routing); }, {x});
    CHECK_FALSE(report.passed);  // not fooled
}

TEST_CASE("gradcheck refuses a vacuous pass and an input list with nothing to check") {
    Tensor x = random_tensor({3}, 3);
    const GradcheckReport report =
        gradcheck([](const std::vector<Tensor>& in) { return in[0] * Scalar(0); }, {x});
    CHECK_FALSE(report.passed);
    CHECK(contains(report.message(), "all zero"));
    Tensor constant = random_tensor({3}, 3, /*requires_grad=*/false);
    CHECK(contains(thrown_message([&] { gradcheck([](const std::vector<Tensor>& in) { return in[0]; }, {constant}); }),
                   "no input requires grad"));
}

TEST_CASE("gradcheck restores the input values it perturbs") {
    Tensor x = random_tensor({5}, 4);
    const std::vector<Scalar> before = x.to_vector();
    gradcheck([](const std::vector<Tensor>& in) { return in[0] * in[0]; }, {x});
    CHECK(x.to_vector() == before);
}
