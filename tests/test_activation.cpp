// Activations (core/ops/activation.cpp): relu, sigmoid, tanh, gelu. Values and derivatives worked out by
// hand, gradient checks at several shapes (away from relu's kink at 0), and undefined inputs.
#include <cmath>
#include <limits>
#include <numbers>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

Tensor leaf(const std::vector<Scalar>& values, const Shape& shape) {
    Tensor t = Tensor::from_vector(values, shape);
    t.requires_grad_();
    return t;
}

// d out / d x for each element, read off a backward seeded with ones (the ops are pointwise).
Tensor derivative(Tensor (*op)(const Tensor&), const std::vector<Scalar>& values) {
    Tensor x = leaf(values, {static_cast<int64_t>(values.size())});
    op(x).backward(Tensor::ones(x.shape()));
    return x.grad();
}

// Uniform in [-1, 1) but pushed 0.1 away from 0, so a finite difference never straddles relu's kink.
Tensor away_from_zero(const Shape& shape, uint64_t seed) {
    Tensor t = random_tensor(shape, seed, false);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] += t.data()[i] < 0 ? -0.1 : 0.1;
    t.requires_grad_();
    return t;
}

// The shapes every activation is gradient-checked at.
const std::vector<Shape> shapes = {{5}, {2, 3}, {2, 3, 4}, {}};

}  // namespace

TEST_CASE("relu: values, and the gradient 0 at exactly 0") {
    // max(x, 0)
    check_values(relu(Tensor::from_vector({-2, -0.5, 0, 1.5}, {4})), {4}, {0, 0, 0, 1.5});
    // 1 where x > 0, else 0; at x = 0 the kink gets 0, PyTorch's convention
    check_values(derivative(relu, {-2, -0.5, 0, 1.5}), {4}, {0, 0, 0, 1});
    CHECK(std::isnan(relu(Tensor::from_vector({std::nan("")}, {1})).item()));  // nan is not hidden as 0
}

TEST_CASE("relu: gradient checks away from 0") {
    for (const Shape& shape : shapes) {
        CAPTURE(to_string(shape));
        Tensor x = shape.empty() ? leaf({0.7}, {}) : away_from_zero(shape, 1);
        check_gradients([](const std::vector<Tensor>& in) { return relu(in[0]); }, {x});
    }
}

TEST_CASE("sigmoid: values and derivative") {
    const Scalar ln3 = std::log(3.0);
    // sigmoid(0) = 1/2;  sigmoid(ln 3) = 1 / (1 + 1/3) = 3/4;  sigmoid(-ln 3) = 1 / (1 + 3) = 1/4;
    // sigmoid(+-1000) = 1 and 0 exactly, with no overflow to nan
    check_values(sigmoid(Tensor::from_vector({0, ln3, -ln3, 1000, -1000}, {5})), {5}, {0.5, 0.75, 0.25, 1, 0},
                 1e-12);
    // s (1 - s): 1/2 * 1/2 = 0.25;  3/4 * 1/4 = 0.1875 (both signs);  0 in the saturated tails
    check_values(derivative(sigmoid, {0, ln3, -ln3, 1000, -1000}), {5}, {0.25, 0.1875, 0.1875, 0, 0}, 1e-12);
}

TEST_CASE("tanh: values and derivative") {
    const Scalar ln2 = std::log(2.0);
    // tanh(ln 2) = (2 - 1/2) / (2 + 1/2) = 1.5 / 2.5 = 0.6;  tanh(50) = 1
    check_values(tanh(Tensor::from_vector({0, ln2, -ln2, 50}, {4})), {4}, {0, 0.6, -0.6, 1}, 1e-12);
    // 1 - t^2: 1, 1 - 0.36 = 0.64, 0.64, 0
    check_values(derivative(tanh, {0, ln2, -ln2, 50}), {4}, {1, 0.64, 0.64, 0}, 1e-12);
}

TEST_CASE("gelu: values and derivative, the exact erf form") {
    // gelu(x) = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2))
    //   gelu(1)  = 0.5 * (1 + erf(0.70710678)) = 0.5 * 1.68268949 = 0.84134475
    //   gelu(-1) = -1 * Phi(-1) = -(1 - 0.84134475) = -0.15865525
    //   gelu(2)  = 2 * 0.5 * (1 + erf(1.41421356)) = 1 + 0.95449974 = 1.95449974
    //   gelu(0)  = 0
    check_values(gelu(Tensor::from_vector({1, -1, 2, 0}, {4})), {4},
                 {0.841344746069, -0.158655253931, 1.954499736104, 0}, 1e-10);
    // Phi(x) + x phi(x), phi(1) = e^(-1/2) / sqrt(2 pi) = 0.24197072
    //   at 1:   0.84134475 + 0.24197072 = 1.08331547
    //   at -1:  0.15865525 - 0.24197072 = -0.08331547
    //   at 2:   0.97724987 + 2 * 0.05399097 = 1.08523180
    //   at 0:   0.5 + 0 = 0.5
    check_values(derivative(gelu, {1, -1, 2, 0}), {4}, {1.083315470588, -0.083315470588, 1.085231801078, 0.5},
                 1e-10);
}

TEST_CASE("sigmoid, tanh, gelu: gradient checks") {
    for (const Shape& shape : shapes) {
        CAPTURE(to_string(shape));
        const Tensor x = random_tensor(shape, 2, true, -3, 3);
        check_gradients([](const std::vector<Tensor>& in) { return sigmoid(in[0]); }, {x});
        check_gradients([](const std::vector<Tensor>& in) { return tanh(in[0]); }, {x});
        check_gradients([](const std::vector<Tensor>& in) { return gelu(in[0]); }, {x});
    }
}

TEST_CASE("sigmoid and tanh agree with the same function built from exp, add and div") {
    // sigmoid(x) = 1 / (1 + e^-x) and tanh(x) = 2 sigmoid(2x) - 1, values and gradients
    const Tensor probe = random_tensor({2, 3}, 4, false);
    Tensor x = random_tensor({2, 3}, 3, true, -3, 3);
    const auto value_and_grad = [&](Tensor (*f)(const Tensor&)) {
        x.zero_grad();
        Tensor y = f(x);
        y.backward(probe);
        return std::make_pair(y.detach().to_vector(), x.grad().to_vector());
    };
    const auto composite_sigmoid = [](const Tensor& v) { return div(Tensor::scalar(1), 1 + exp(-v)); };
    const auto composite_tanh = [](const Tensor& v) { return 2 * sigmoid(2 * v) - 1; };
    const auto [s, ds] = value_and_grad(sigmoid);
    const auto [s2, ds2] = value_and_grad(+composite_sigmoid);
    const auto [t, dt] = value_and_grad(tanh);
    const auto [t2, dt2] = value_and_grad(+composite_tanh);
    for (size_t i = 0; i < s.size(); ++i) {
        CHECK(std::abs(s[i] - s2[i]) < 1e-12);
        CHECK(std::abs(ds[i] - ds2[i]) < 1e-12);
        CHECK(std::abs(t[i] - t2[i]) < 1e-12);
        CHECK(std::abs(dt[i] - dt2[i]) < 1e-12);
    }
}

TEST_CASE("activations on a large tensor (the OpenMP path) match the formula element by element") {
    const int64_t n = 65536;
    Tensor x = Tensor::empty({n});
    for (int64_t i = 0; i < n; ++i) x.data()[i] = static_cast<Scalar>(i % 101 - 50) / 10;  // -5 .. 5
    x.requires_grad_();
    Tensor y = gelu(x);
    y.backward(Tensor::ones({n}));
    bool all_equal = true;
    for (int64_t i = 0; i < n; ++i) {
        const double v = x.data()[i];
        const double cdf = 0.5 * (1 + std::erf(v / std::sqrt(2.0)));
        const double pdf = std::exp(-0.5 * v * v) / std::sqrt(2 * std::numbers::pi);
        all_equal = all_equal && std::abs(y.data()[i] - v * cdf) < 1e-12 &&
                    std::abs(x.grad().data()[i] - (cdf + v * pdf)) < 1e-12;
    }
    CHECK(all_equal);
}

TEST_CASE("activations: an undefined input throws naming the op") {
    CHECK(contains(thrown_message([] { relu(Tensor()); }), "relu: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { sigmoid(Tensor()); }), "sigmoid: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { tanh(Tensor()); }), "tanh: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { gelu(Tensor()); }), "gelu: the input is an undefined tensor"));
}

TEST_CASE("gelu: the fused kernel equals 0.5 x (1 + erf(x / sqrt 2)) built from mul, add and erf") {
    // 70000 elements: the threaded path of both.
    for (const Shape& shape : {Shape{3, 5}, Shape{2, 3, 4}, Shape{70000}}) {
        CAPTURE(to_string(shape));
        Tensor x = random_tensor(shape, 12, true, -4, 4);
        const Tensor probe = random_tensor(shape, 13, false);
        Tensor fused = gelu(x);
        sum(fused * probe).backward();
        const Tensor fused_grad = x.grad();
        x.zero_grad();
        const Scalar inv_sqrt2 = 1 / std::sqrt(Scalar(2));
        Tensor composite = mul(mul(x, Scalar(0.5)), add(erf(mul(x, inv_sqrt2)), Scalar(1)));
        sum(composite * probe).backward();
        check_close(fused, composite, 1e-12);
        check_close(fused_grad, x.grad(), 1e-12);
    }
}
