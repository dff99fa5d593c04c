// linear (core/ops/matmul.cpp): values and gradients by hand, gradient checks of x, weight and bias at
// several shapes (leading dimensions, a 1-D x, no bias), the fused kernel against matmul + add, results
// independent of the thread count, and bad shapes.
#include <functional>
#include <utility>
#include <vector>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

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

Tensor fused(const std::vector<Tensor>& in) { return linear(in[0], in[1], in.size() > 2 ? in[2] : Tensor()); }

// The same computation from primitives: x @ weight^T (+ bias, broadcast over the rows).
Tensor composite(const std::vector<Tensor>& in) {
    Tensor out = matmul(in[0], transpose(in[1], 0, 1));
    return in.size() > 2 ? out + in[2] : out;
}

}  // namespace

TEST_CASE("linear: values and gradients worked out by hand") {
    // x = [[1, 2], [3, 4]]   weight = [[1, 0], [1, 1], [2, -1]]   bias = [0.5, -1, 2]
    // out[r, o] = sum_c x[r, c] weight[o, c] + bias[o]
    //   row 0: [1*1 + 2*0 + 0.5, 1*1 + 2*1 - 1, 1*2 + 2*(-1) + 2] = [1.5, 2, 2]
    //   row 1: [3*1 + 4*0 + 0.5, 3*1 + 4*1 - 1, 3*2 + 4*(-1) + 2] = [3.5, 6, 4]
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    Tensor weight = Tensor::from_vector({1, 0, 1, 1, 2, -1}, {3, 2});
    Tensor bias = Tensor::from_vector({0.5, -1, 2}, {3});
    x.requires_grad_();
    weight.requires_grad_();
    bias.requires_grad_();
    Tensor out = linear(x, weight, bias);
    check_values(out, {2, 3}, {1.5, 2, 2, 3.5, 6, 4}, 1e-12);
    // Without bias: subtract it.  [1, 3, 0] and [3, 7, 2]
    check_values(linear(x, weight, Tensor()), {2, 3}, {1, 3, 0, 3, 7, 2}, 1e-12);
    // dout = ones (2, 3):
    //   dx = dout @ weight: each row is the column sums of weight = [1 + 1 + 2, 0 + 1 - 1] = [4, 0]
    //   dweight = dout^T @ x: each row is the column sums of x = [1 + 3, 2 + 4] = [4, 6]
    //   dbias = sum over rows of dout = [2, 2, 2]
    out.backward(Tensor::ones({2, 3}));
    check_values(x.grad(), {2, 2}, {4, 0, 4, 0}, 1e-12);
    check_values(weight.grad(), {3, 2}, {4, 6, 4, 6, 4, 6}, 1e-12);
    check_values(bias.grad(), {3}, {2, 2, 2}, 1e-12);
}

TEST_CASE("linear: gradient checks of x, weight and bias") {
    // (x shape, weight shape): 2-D, leading dims (B, T, C), a 1-D x, one feature.
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3, 4}, {5, 4}}, {{2, 3, 4}, {2, 4}}, {{4}, {3, 4}}, {{1, 1}, {1, 1}}, {{2, 1, 3, 5}, {7, 5}},
    };
    for (const auto& shapes : cases) {
        const Shape& x_shape = shapes.first;  // (clang < 16 cannot capture a structured binding)
        const Shape& w_shape = shapes.second;
        CAPTURE(to_string(x_shape));
        CAPTURE(to_string(w_shape));
        Tensor x = random_tensor(x_shape, 1);
        Tensor weight = random_tensor(w_shape, 2);
        Tensor bias = random_tensor({w_shape[0]}, 3);
        check_gradients(fused, {x, weight, bias});
        check_gradients(fused, {x, weight});  // no bias
    }
}

TEST_CASE("linear: the fused kernel equals matmul(x, weight^T) + bias, values and gradients") {
    // The last case has R * OC = 300 * 120 = 36000 output elements: the threaded bias paths.
    const std::vector<std::pair<Shape, Shape>> cases = {{{3, 5}, {4, 5}}, {{2, 3, 6}, {5, 6}}, {{300, 16}, {120, 16}}};
    for (const auto& shapes : cases) {
        const Shape& x_shape = shapes.first;  // (clang < 16 cannot capture a structured binding)
        const Shape& w_shape = shapes.second;
        CAPTURE(to_string(x_shape));
        Tensor x = random_tensor(x_shape, 4);
        Tensor weight = random_tensor(w_shape, 5);
        Tensor bias = random_tensor({w_shape[0]}, 6);
        for (bool with_bias : {true, false}) {
            const std::vector<Tensor> inputs = with_bias ? std::vector<Tensor>{x, weight, bias}
                                                         : std::vector<Tensor>{x, weight};
            const auto [y1, g1] = value_and_grads(fused, inputs, 7);
            const auto [y2, g2] = value_and_grads(composite, inputs, 7);
            check_close(y1, y2, 1e-10);
            for (size_t i = 0; i < inputs.size(); ++i) check_close(g1[i], g2[i], 1e-10);
        }
    }
}

TEST_CASE("linear: bias gradient is the same whatever the number of threads") {
    Tensor x = random_tensor({700, 8}, 8);
    Tensor weight = random_tensor({130, 8}, 9);  // 130 columns: two full blocks of 64 and a partial one
    Tensor bias = random_tensor({130}, 10);
    const auto [y_many, g_many] = value_and_grads(fused, {x, weight, bias}, 11);
    const auto [y_one, g_one] = with_threads(1, [&] { return value_and_grads(fused, {x, weight, bias}, 11); });
    check_close(y_many, y_one, 0);
    for (size_t i = 0; i < 3; ++i) check_close(g_many[i], g_one[i], 0);
}

TEST_CASE("linear: gradients accumulate (+=) across backward passes") {
    // Two forward/backward passes without zero_grad: every gradient must be exactly twice one pass's.
    Tensor x = random_tensor({4, 3}, 12);
    Tensor weight = random_tensor({5, 3}, 13);
    Tensor bias = random_tensor({5}, 14);
    const auto [y, once] = value_and_grads(fused, {x, weight, bias}, 15);
    const Tensor probe = random_tensor({4, 5}, 15, false);
    sum(linear(x, weight, bias) * probe).backward();  // adds a second, equal gradient
    const std::vector<Tensor> twice = {x.grad(), weight.grad(), bias.grad()};
    for (size_t i = 0; i < 3; ++i) check_close(twice[i], once[i] * Scalar(2), 1e-12);
}

TEST_CASE("linear: bad shapes name every shape") {
    const std::string features = thrown_message([] { linear(Tensor::ones({2, 3}), Tensor::ones({4, 5}), Tensor()); });
    CHECK(contains(features, "(2, 3)"));
    CHECK(contains(features, "(4, 5)"));
    const std::string bias =
        thrown_message([] { linear(Tensor::ones({2, 5}), Tensor::ones({4, 5}), Tensor::ones({3})); });
    CHECK(contains(bias, "(3,)"));
    CHECK(contains(bias, "(4, 5)"));
    const std::string rank = thrown_message([] { linear(Tensor::ones({2, 5}), Tensor::ones({5}), Tensor()); });
    CHECK(contains(rank, "(2, 5)"));
    CHECK(contains(rank, "(5,)"));
}
