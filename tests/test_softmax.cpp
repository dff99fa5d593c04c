// softmax and log_softmax (core/ops/softmax.cpp): values, gradients, and the fused kernels against the
// same computation built from primitive ops.
#include <cmath>

#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("softmax and log_softmax: values worked out by hand") {
    // softmax(1, 2, 3): e^k / (e + e^2 + e^3) = (2.71828, 7.38906, 20.08554) / 30.19288
    //                 = (0.0900306, 0.2447285, 0.6652410)
    Tensor x = Tensor::from_vector({1, 2, 3}, {3});
    check_values(softmax(x, 0), {3}, {0.09003057, 0.24472847, 0.66524096}, 1e-8);
    // log_softmax = x - log(30.19288) = x - 3.40760596
    check_values(log_softmax(x, -1), {3}, {-2.40760596, -1.40760596, -0.40760596}, 1e-8);
    // Along dim 0 of a (2, 2): each column is a softmax of its own. Column (0, ln 3): (1/4, 3/4).
    Tensor m = Tensor::from_vector({0, 5, std::log(3.0), 5}, {2, 2});
    check_values(softmax(m, 0), {2, 2}, {0.25, 0.5, 0.75, 0.5}, 1e-12);
}

TEST_CASE("softmax is stable for large logits") {
    // Without subtracting the maximum, e^1000 overflows to inf and the result is nan.
    Tensor x = Tensor::from_vector({1000, 1001}, {2});
    // e^0 / (e^0 + e^1) = 1 / (1 + e) = 0.2689414
    check_values(softmax(x, 0), {2}, {0.26894142, 0.73105858}, 1e-8);
    check_values(log_softmax(x, 0), {2}, {-1.31326169, -0.31326169}, 1e-8);
}

TEST_CASE("softmax and log_softmax: gradient checks along every dim") {
    for (const Shape& shape : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}}) {
        for (int64_t dim = -1; dim < static_cast<int64_t>(shape.size()); ++dim) {
            CAPTURE(to_string(shape));
            CAPTURE(dim);
            Tensor x = random_tensor(shape, 10 + dim, true, -2, 2);
            check_gradients([dim](const std::vector<Tensor>& in) { return softmax(in[0], dim); }, {x});
            check_gradients([dim](const std::vector<Tensor>& in) { return log_softmax(in[0], dim); }, {x});
        }
    }
}

TEST_CASE("the fused softmax equals the one built from exp, sum and div, values and gradients") {
    Tensor x = random_tensor({3, 5}, 5, true, -3, 3);
    const Tensor probe = random_tensor({3, 5}, 6, false);
    // Runs `f`, backpropagates sum(f(x) * probe), and returns the output and x's gradient.
    const auto value_and_grad = [&](const std::function<Tensor(const Tensor&)>& f) {
        x.zero_grad();
        Tensor y = f(x);
        sum(y * probe).backward();
        return std::make_pair(y.detach(), x.grad());
    };
    // From primitives: e^(x - max) / sum e^(x - max); the max is a constant shift, so it is detached.
    const auto shifted = [](const Tensor& v) { return v - max(v, 1, true).detach(); };
    const auto composite_softmax = [&](const Tensor& v) {
        Tensor e = exp(shifted(v));
        return e / sum(e, 1, true);
    };
    const auto composite_log_softmax = [&](const Tensor& v) {
        return shifted(v) - log(sum(exp(shifted(v)), 1, true));
    };
    const auto [fused, fused_grad] = value_and_grad([](const Tensor& v) { return softmax(v, 1); });
    const auto [composite, composite_grad] = value_and_grad(composite_softmax);
    check_close(fused, composite);
    check_close(fused_grad, composite_grad);
    const auto [fused_log, fused_log_grad] = value_and_grad([](const Tensor& v) { return log_softmax(v, 1); });
    const auto [composite_log, composite_log_grad] = value_and_grad(composite_log_softmax);
    check_close(fused_log, composite_log);
    check_close(fused_log_grad, composite_log_grad);
}

TEST_CASE("softmax: a dim out of range names the dim and the shape") {
    Tensor x = Tensor::ones({2, 3});
    const std::string message = thrown_message([&] { softmax(x, 2); });
    CHECK(contains(message, "dim 2"));
    CHECK(contains(message, "(2, 3)"));
    CHECK(contains(thrown_message([&] { log_softmax(x, -3); }), "(2, 3)"));
}
