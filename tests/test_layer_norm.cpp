// layer_norm (core/ops/layer_norm.cpp): values and gradients by hand, gradient checks of x, weight and bias
// at several shapes, the fused kernel against the same computation from mean, sub, mul, add, sqrt and div,
// results independent of the thread count, and bad shapes.
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

constexpr Scalar kEps = 1e-5;

// Runs f on `inputs`, backpropagates sum(f(inputs) * probe), and returns the output and every input's grad.
std::pair<Tensor, std::vector<Tensor>> value_and_grads(const std::function<Tensor(const std::vector<Tensor>&)>& f,
                                                       const std::vector<Tensor>& inputs, uint64_t probe_seed) {
    for (Tensor t : inputs) t.zero_grad();
    Tensor y = f(inputs);
    const Tensor probe = random_tensor(y.shape(), probe_seed, false);
    sum(y * probe).backward();
    std::vector<Tensor> grads;
    for (const Tensor& t : inputs) grads.push_back(t.grad().clone());  // a copy: later passes add into grad
    return {y.detach(), grads};
}

Tensor fused(const std::vector<Tensor>& in) { return layer_norm(in[0], in[1], in[2], kEps); }

// The same computation from primitives: (x - mean) / sqrt(biased var + eps) * weight + bias.
Tensor composite(const std::vector<Tensor>& in) {
    const Tensor& x = in[0];
    Tensor centred = x - mean(x, -1, true);                      // (.., C)
    Tensor var = mean(centred * centred, -1, true);              // (.., 1), divides by C
    return centred / sqrt(var + kEps) * in[1] + in[2];           // weight, bias (C) broadcast over rows
}

}  // namespace

TEST_CASE("layer_norm: values worked out by hand") {
    // Row [1, 2, 3], eps 0: mean 2, var ((-1)^2 + 0^2 + 1^2) / 3 = 2/3, rstd = sqrt(3/2) = 1.2247448714
    //   xhat = [-1.2247448714, 0, 1.2247448714]
    //   weight [1, 2, 0.5], bias [0, 1, -1]:  out = [-1.2247448714, 0 + 1, 0.6123724357 - 1 = -0.3876275643]
    Tensor x = Tensor::from_vector({1, 2, 3}, {1, 3});
    Tensor w = Tensor::from_vector({1, 2, 0.5}, {3});
    Tensor b = Tensor::from_vector({0, 1, -1}, {3});
    check_values(layer_norm(x, w, b, 0), {1, 3}, {-1.2247448714, 1, -0.3876275643}, 1e-9);
    // Row [0, 4], eps 5: mean 2, var (4 + 4) / 2 = 4, rstd = 1 / sqrt(4 + 5) = 1/3, xhat = [-2/3, 2/3]
    check_values(layer_norm(Tensor::from_vector({0, 4}, {2}), Tensor::ones({2}), Tensor::zeros({2}), 5), {2},
                 {-2.0 / 3, 2.0 / 3}, 1e-12);
}

TEST_CASE("layer_norm: gradients worked out by hand") {
    // Rows [1, 2, 3] and [0, 4, 8] (the second is twice the first plus -2: the same xhat), eps 0,
    // weight ones, bias zeros, dout ones.
    //   dbias = sum over rows of dout = [2, 2, 2]
    //   dweight = sum over rows of xhat = 2 * [-1.2247448714, 0, 1.2247448714]
    //   dx: dxhat = dout * weight = 1, so mean(dxhat) = 1 and mean(dxhat * xhat) = mean(xhat) = 0:
    //       dx = rstd (1 - 1 - xhat * 0) = 0. Shifting a row, or a uniform dout, changes nothing.
    Tensor x = Tensor::from_vector({1, 2, 3, 0, 4, 8}, {2, 3});
    Tensor w = Tensor::ones({3});
    Tensor b = Tensor::zeros({3});
    x.requires_grad_();
    w.requires_grad_();
    b.requires_grad_();
    layer_norm(x, w, b, 0).backward(Tensor::ones({2, 3}));
    check_values(b.grad(), {3}, {2, 2, 2}, 1e-12);
    check_values(w.grad(), {3}, {-2.4494897428, 0, 2.4494897428}, 1e-9);
    check_values(x.grad(), {2, 3}, {0, 0, 0, 0, 0, 0}, 1e-12);
    // dout = [1, 0, 0] on row [1, 2, 3] alone, weight ones: rstd = 1.2247448714, xhat = [-r, 0, r]
    //   mean(dxhat) = 1/3, mean(dxhat * xhat) = -r/3
    //   dx = r ([1, 0, 0] - 1/3 - [-r, 0, r] * (-r/3)) = r ([1, 0, 0] - 1/3 + r^2 [-1, 0, 1] / 3)
    //      r^2 = 1.5:  = r [1 - 1/3 - 0.5, -1/3, -1/3 + 0.5] = r [1/6, -1/3, 1/6]
    //      = [0.2041241452, -0.4082482905, 0.2041241452]
    Tensor y = Tensor::from_vector({1, 2, 3}, {3});
    y.requires_grad_();
    layer_norm(y, Tensor::ones({3}), Tensor::zeros({3}), 0).backward(Tensor::from_vector({1, 0, 0}, {3}));
    check_values(y.grad(), {3}, {0.2041241452, -0.4082482905, 0.2041241452}, 1e-9);
}

TEST_CASE("layer_norm: gradient checks of x, weight and bias") {
    for (const Shape& shape : {Shape{3, 4}, Shape{2, 3, 5}, Shape{6}, Shape{2, 1, 2, 7}}) {
        CAPTURE(to_string(shape));
        const int64_t C = shape.back();
        Tensor x = random_tensor(shape, 1, true, -2, 2);
        Tensor w = random_tensor({C}, 2, true, 0.5, 1.5);
        Tensor b = random_tensor({C}, 3);
        check_gradients(fused, {x, w, b});
        // One input at a time: the closure must handle the others not requiring grad.
        check_gradients(fused, {x, w.detach(), b.detach()});
        check_gradients(fused, {x.detach(), w, b.detach()});
        check_gradients(fused, {x.detach(), w.detach(), b});
    }
}

TEST_CASE("layer_norm: the fused kernel equals the one built from mean, sub, mul, add, sqrt and div") {
    // (520, 64) has 33280 elements: the threaded paths.
    for (const Shape& shape : {Shape{4, 6}, Shape{2, 3, 8}, Shape{520, 64}}) {
        CAPTURE(to_string(shape));
        const int64_t C = shape.back();
        Tensor x = random_tensor(shape, 4, true, -3, 3);
        Tensor w = random_tensor({C}, 5);
        Tensor b = random_tensor({C}, 6);
        const auto [y1, g1] = value_and_grads(fused, {x, w, b}, 7);
        const auto [y2, g2] = value_and_grads(composite, {x, w, b}, 7);
        check_close(y1, y2, 1e-10);
        for (size_t i = 0; i < 3; ++i) check_close(g1[i], g2[i], 1e-10);
    }
}

TEST_CASE("layer_norm: gradients are the same whatever the number of threads") {
    Tensor x = random_tensor({300, 130}, 8);  // 130 channels: two full blocks of 64 and a partial one
    Tensor w = random_tensor({130}, 9);
    Tensor b = random_tensor({130}, 10);
    const auto [y_many, g_many] = value_and_grads(fused, {x, w, b}, 11);
    const auto [y_one, g_one] = with_threads(1, [&] { return value_and_grads(fused, {x, w, b}, 11); });
    check_close(y_many, y_one, 0);
    for (size_t i = 0; i < 3; ++i) check_close(g_many[i], g_one[i], 0);
}

TEST_CASE("layer_norm: gradients accumulate (+=) across backward passes") {
    // Two forward/backward passes without zero_grad: every gradient must be exactly twice one pass's.
    Tensor x = random_tensor({4, 6}, 12);
    Tensor w = random_tensor({6}, 13);
    Tensor b = random_tensor({6}, 14);
    const auto [y, once] = value_and_grads(fused, {x, w, b}, 15);
    const Tensor probe = random_tensor({4, 6}, 15, false);
    sum(layer_norm(x, w, b, kEps) * probe).backward();
    const std::vector<Tensor> twice = {x.grad(), w.grad(), b.grad()};
    for (size_t i = 0; i < 3; ++i) check_close(twice[i], once[i] * Scalar(2), 1e-12);
}

TEST_CASE("layer_norm: bad shapes name every shape") {
    const std::string weight =
        thrown_message([] { layer_norm(Tensor::ones({2, 3}), Tensor::ones({4}), Tensor::ones({3}), kEps); });
    CHECK(contains(weight, "(2, 3)"));
    CHECK(contains(weight, "(4,)"));
    const std::string bias =
        thrown_message([] { layer_norm(Tensor::ones({2, 3}), Tensor::ones({3}), Tensor::ones({2, 3}), kEps); });
    CHECK(contains(bias, "(2, 3)"));
    CHECK(contains(bias, "(3,)"));
    CHECK(contains(thrown_message([] { layer_norm(Tensor::ones({2, 3}), Tensor(), Tensor::ones({3}), kEps); }),
                   "layer_norm: weight is an undefined tensor"));
    CHECK(contains(thrown_message([] { layer_norm(Tensor::ones({}), Tensor::ones({1}), Tensor::ones({1}), kEps); }),
                   "()"));
}
