// Elementwise ops and broadcasting (core/ops/elementwise.cpp): values worked out by hand, gradient checks
// at broadcasting shapes, sum_to_shape on its own, and errors that name both shapes.
#include <cmath>
#include <functional>
#include <limits>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

using BinaryOp = std::function<Tensor(const Tensor&, const Tensor&)>;

// The pairs of shapes every broadcasting op is gradient-checked at: equal shapes, a row against a matrix
// (both ways round), (2, 1, 4) with (3, 1) where both operands stretch, and scalar-shaped () operands.
const std::vector<std::pair<Shape, Shape>> broadcast_cases = {
    {{2, 3}, {2, 3}}, {{2, 3}, {3}},       {{3}, {2, 3}}, {{2, 1, 4}, {3, 1}}, {{3, 1}, {2, 1, 4}},
    {{}, {2, 3}},     {{2, 3}, {}},        {{}, {}},      {{1, 3}, {2, 1}},
};

// Gradient check of both inputs of `op` at every pair of broadcast_cases; b is drawn from [low_b, high_b).
void check_binary_gradients(const BinaryOp& op, Scalar low_b = -1, Scalar high_b = 1) {
    for (const auto& [shape_a, shape_b] : broadcast_cases) {
        const std::string shapes = to_string(shape_a) + " and " + to_string(shape_b);
        CAPTURE(shapes);
        Tensor a = random_tensor(shape_a, 1);
        Tensor b = random_tensor(shape_b, 2, true, low_b, high_b);
        check_gradients([op](const std::vector<Tensor>& in) { return op(in[0], in[1]); }, {a, b});
    }
}

Tensor leaf(const std::vector<Scalar>& values, const Shape& shape) {
    Tensor t = Tensor::from_vector(values, shape);
    t.requires_grad_();
    return t;
}

}  // namespace

// ---- broadcast_shapes and sum_to_shape -------------------------------------------------------------------

TEST_CASE("broadcast_shapes: NumPy's rules") {
    CHECK(broadcast_shapes({2, 1, 4}, {3, 1}, "add") == Shape{2, 3, 4});  // aligned right: (2,1,4) vs (_,3,1)
    CHECK(broadcast_shapes({2, 3}, {3}, "add") == Shape{2, 3});
    CHECK(broadcast_shapes({3}, {2, 3}, "add") == Shape{2, 3});
    CHECK(broadcast_shapes({}, {2, 3}, "add") == Shape{2, 3});            // () stretches everywhere
    CHECK(broadcast_shapes({}, {}, "add") == Shape{});
    CHECK(broadcast_shapes({1, 3}, {2, 1}, "add") == Shape{2, 3});
    CHECK(broadcast_shapes({0, 3}, {1, 3}, "add") == Shape{0, 3});        // 1 stretches to 0 as well
    CHECK(thrown_message([] { broadcast_shapes({2, 3}, {4}, "add"); }) ==
          "add: shapes (2, 3) and (4,) cannot broadcast: 3 vs 4 at dimension -1");
    CHECK(thrown_message([] { broadcast_shapes({2, 3}, {4, 3}, "mul"); }) ==
          "mul: shapes (2, 3) and (4, 3) cannot broadcast: 2 vs 4 at dimension -2");
    CHECK(thrown_message([] { broadcast_shapes({2, 3}, {2, 3}, "add"); }) == "");
}

TEST_CASE("sum_to_shape: sums over the stretched dimensions") {
    // g = [[1, 2, 3], [4, 5, 6]]
    const Tensor g = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    check_values(sum_to_shape(g, {3}), {3}, {5, 7, 9});           // column sums: 1+4, 2+5, 3+6
    check_values(sum_to_shape(g, {1, 3}), {1, 3}, {5, 7, 9});
    check_values(sum_to_shape(g, {2, 1}), {2, 1}, {6, 15});       // row sums: 1+2+3, 4+5+6
    check_values(sum_to_shape(g, {}), {}, {21});                  // everything: 1+...+6
    check_values(sum_to_shape(g, {2, 3}), {2, 3}, {1, 2, 3, 4, 5, 6});
    // (2, 3, 4) holding 0..23 summed to (3, 1): element (i, j, k) = 12i + 4j + k, summed over i and k:
    //   sum_i sum_k (12i + 4j + k) = 4 * (0 + 12) + 8 * 4j + 2 * (0 + 1 + 2 + 3) = 60 + 32j -> 60, 92, 124
    const Tensor h = Tensor::from_vector(Tensor::arange(24).to_vector(), {2, 3, 4});
    check_values(sum_to_shape(h, {3, 1}), {3, 1}, {60, 92, 124});
    // A copy, never the gradient itself.
    Tensor same = sum_to_shape(g, {2, 3});
    same.data()[0] = 100;
    CHECK(g.data()[0] == 1);
}

TEST_CASE("sum_to_shape: gradient checks (its backward is the broadcast)") {
    const std::vector<std::pair<Shape, Shape>> cases = {{{2, 3}, {3}}, {{2, 3, 4}, {3, 1}}, {{2, 3}, {}},
                                                        {{2, 3}, {2, 3}}, {{2, 3}, {2, 1}}};
    for (const auto& [from, to] : cases) {
        const Shape target = to;
        const std::string shapes = to_string(from) + " -> " + to_string(to);
        CAPTURE(shapes);
        check_gradients([target](const std::vector<Tensor>& in) { return sum_to_shape(in[0], target); },
                        {random_tensor(from, 3)});
    }
}

TEST_CASE("sum_to_shape: a shape that does not broadcast to the gradient's throws with both") {
    const Tensor g = Tensor::zeros({2, 3});
    const std::string wrong_size = thrown_message([&] { sum_to_shape(g, {4}); });
    CHECK(contains(wrong_size, "(4,)"));
    CHECK(contains(wrong_size, "(2, 3)"));
    // The target may not be larger than the gradient: (3,) cannot come from summing into (2, 3).
    const std::string larger = thrown_message([] { sum_to_shape(Tensor::zeros({3}), {2, 3}); });
    CHECK(contains(larger, "(3,)"));
    CHECK(contains(larger, "(2, 3)"));
}

// ---- add, sub, mul, div -----------------------------------------------------------------------------------

TEST_CASE("add and sub: values, equal shapes and broadcast") {
    const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor b = Tensor::from_vector({10, 20, 30}, {3});
    // [[1, 2, 3], [4, 5, 6]] + [10, 20, 30]: the row is added to each row
    check_values(add(a, b), {2, 3}, {11, 22, 33, 14, 25, 36});
    check_values(add(b, a), {2, 3}, {11, 22, 33, 14, 25, 36});
    check_values(sub(a, b), {2, 3}, {-9, -18, -27, -6, -15, -24});
    check_values(sub(b, a), {2, 3}, {9, 18, 27, 6, 15, 24});
    check_values(add(a, a), {2, 3}, {2, 4, 6, 8, 10, 12});
    check_values(sub(a, Tensor::scalar(1)), {2, 3}, {0, 1, 2, 3, 4, 5});
    check_values(add(Tensor::scalar(2), Tensor::scalar(3)), {}, {5});
    CHECK(add(Tensor::zeros({0, 3}), b).shape() == Shape{0, 3});
}

TEST_CASE("mul and div: values, (2, 1, 4) * (3, 1) -> (2, 3, 4)") {
    const Tensor a = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 1, 4});
    const Tensor b = Tensor::from_vector({1, 10, 100}, {3, 1});
    // out[i, j, k] = a[i, 0, k] * b[j, 0]: each row of a times 1, 10, 100 in turn
    check_values(mul(a, b), {2, 3, 4}, {1,  2,  3,  4,  10, 20, 30, 40, 100, 200, 300, 400,
                                        5,  6,  7,  8,  50, 60, 70, 80, 500, 600, 700, 800});
    // out[i, j, k] = a[i, 0, k] / b[j, 0]
    check_values(div(a, b), {2, 3, 4}, {1,   2,   3,   4,   0.1, 0.2, 0.3, 0.4, 0.01, 0.02, 0.03, 0.04,
                                        5,   6,   7,   8,   0.5, 0.6, 0.7, 0.8, 0.05, 0.06, 0.07, 0.08},
                 1e-12);
    // () / (3,): 12 / [1, 2, 3] = [12, 6, 4]
    check_values(div(Tensor::scalar(12), Tensor::from_vector({1, 2, 3}, {3})), {3}, {12, 6, 4});
    check_values(mul(Tensor::from_vector({2, -3}, {2}), Tensor::from_vector({4, 5}, {2})), {2}, {8, -15});
}

TEST_CASE("add, sub, mul, div: gradients by hand, summed over the stretched dimension") {
    Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = leaf({10, 20, 30}, {3});
    add(a, b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {2, 3}, {1, 1, 1, 1, 1, 1});
    check_values(b.grad(), {3}, {2, 2, 2});  // each b element was used by both rows
    a.zero_grad();
    b.zero_grad();
    sub(a, b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {2, 3}, {1, 1, 1, 1, 1, 1});
    check_values(b.grad(), {3}, {-2, -2, -2});
    a.zero_grad();
    b.zero_grad();
    mul(a, b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {2, 3}, {10, 20, 30, 10, 20, 30});  // d(a b)/da = b, broadcast
    check_values(b.grad(), {3}, {5, 7, 9});                     // d(a b)/db = a, summed: 1+4, 2+5, 3+6
    // div: a = 6, b = 2:  d/da = 1/b = 0.5,  d/db = -a/b^2 = -6/4 = -1.5
    Tensor x = leaf({6}, {1});
    Tensor y = leaf({2}, {});
    div(x, y).backward();
    check_values(x.grad(), {1}, {0.5});
    check_values(y.grad(), {}, {-1.5});
}

TEST_CASE("add, sub, mul, div: gradient checks at broadcasting shapes") {
    check_binary_gradients([](const Tensor& a, const Tensor& b) { return add(a, b); });
    check_binary_gradients([](const Tensor& a, const Tensor& b) { return sub(a, b); });
    check_binary_gradients([](const Tensor& a, const Tensor& b) { return mul(a, b); });
    // b kept away from 0, where a / b blows up
    check_binary_gradients([](const Tensor& a, const Tensor& b) { return div(a, b); }, 0.5, 1.5);
    check_binary_gradients([](const Tensor& a, const Tensor& b) { return div(a, b); }, -1.5, -0.5);
}

TEST_CASE("a value used twice: mul(a, a), add(a, a), a * b + a") {
    // d(a^2)/da = 2a: both uses of a add their share into a's grad
    Tensor a = leaf({3, -2}, {2});
    mul(a, a).backward(Tensor::ones({2}));
    check_values(a.grad(), {2}, {6, -4});
    a.zero_grad();
    add(a, a).backward(Tensor::ones({2}));
    check_values(a.grad(), {2}, {2, 2});
    // y = a b + a with a = 2, b = 5: dy/da = b + 1 = 6, dy/db = a = 2
    Tensor x = leaf({2}, {});
    Tensor y = leaf({5}, {});
    add(mul(x, y), x).backward();
    check_values(x.grad(), {}, {6});
    check_values(y.grad(), {}, {2});
    // And numerically, with broadcasting in the mix: a (2, 3) used twice, once against b (3,).
    check_gradients([](const std::vector<Tensor>& in) { return mul(in[0], in[0]); }, {random_tensor({2, 3}, 4)});
    check_gradients([](const std::vector<Tensor>& in) { return mul(in[0], add(in[0], in[1])); },
                    {random_tensor({2, 3}, 5), random_tensor({3}, 6)});
    check_gradients([](const std::vector<Tensor>& in) { return div(in[0], add(in[0], 3)); },
                    {random_tensor({2, 1, 4}, 7)});
}

TEST_CASE("add, sub, mul, div: shapes that do not broadcast throw with both shapes") {
    const Tensor a = Tensor::zeros({2, 3});
    const Tensor b = Tensor::zeros({4});
    for (const auto& name_and_op : std::vector<std::pair<std::string, BinaryOp>>{
             {"add", [](const Tensor& x, const Tensor& y) { return add(x, y); }},
             {"sub", [](const Tensor& x, const Tensor& y) { return sub(x, y); }},
             {"mul", [](const Tensor& x, const Tensor& y) { return mul(x, y); }},
             {"div", [](const Tensor& x, const Tensor& y) { return div(x, y); }}}) {
        const std::string& name = name_and_op.first;  // (clang < 16 cannot capture a structured binding)
        const BinaryOp& op = name_and_op.second;
        CAPTURE(name);
        const std::string message = thrown_message([&] { op(a, b); });
        CHECK(message == name + ": shapes (2, 3) and (4,) cannot broadcast: 3 vs 4 at dimension -1");
    }
    // (2, 1, 4) and (3, 2): the last dimensions already disagree
    const std::string message = thrown_message([] { mul(Tensor::zeros({2, 1, 4}), Tensor::zeros({3, 2})); });
    CHECK(contains(message, "(2, 1, 4)"));
    CHECK(contains(message, "(3, 2)"));
    CHECK(contains(thrown_message([&] { add(Tensor(), a); }), "add: a is an undefined tensor"));
}

TEST_CASE("large tensors (the OpenMP path) give the same numbers as the formula") {
    // (64, 1024) + (1024,) and (64, 1024) * (64, 1024): 65536 elements, above the parallel threshold
    const int64_t rows = 64, cols = 1024;
    Tensor a = Tensor::empty({rows, cols});
    Tensor b = Tensor::empty({cols});
    for (int64_t i = 0; i < rows * cols; ++i) a.data()[i] = static_cast<Scalar>(i % 97);
    for (int64_t j = 0; j < cols; ++j) b.data()[j] = static_cast<Scalar>(j) * 0.5;
    a.requires_grad_();
    b.requires_grad_();
    const Tensor sum_ab = add(a, b);
    const Tensor product = mul(a, a);
    bool all_equal = true;
    for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) {
            const Scalar av = static_cast<Scalar>((i * cols + j) % 97);
            all_equal = all_equal && sum_ab.data()[i * cols + j] == av + static_cast<Scalar>(j) * 0.5 &&
                        product.data()[i * cols + j] == av * av;
        }
    CHECK(all_equal);
    add(a, b).backward(Tensor::ones({rows, cols}));
    bool b_grad_is_rows = true;  // each b element was stretched over 64 rows
    for (int64_t j = 0; j < cols; ++j) b_grad_is_rows = b_grad_is_rows && b.grad().data()[j] == rows;
    CHECK(b_grad_is_rows);
}

// ---- arithmetic with a number, and the operators ----------------------------------------------------------

TEST_CASE("scalar arithmetic and the operators: values") {
    const Tensor x = Tensor::from_vector({1, -2, 3.5}, {3});
    check_values(add(x, 2), {3}, {3, 0, 5.5});
    check_values(x + 2, {3}, {3, 0, 5.5});
    check_values(2 + x, {3}, {3, 0, 5.5});
    check_values(x - 2, {3}, {-1, -4, 1.5});
    check_values(2 - x, {3}, {1, 4, -1.5});         // 2 - 1, 2 + 2, 2 - 3.5
    check_values(mul(x, 3), {3}, {3, -6, 10.5});
    check_values(x * 3, {3}, {3, -6, 10.5});
    check_values(3 * x, {3}, {3, -6, 10.5});
    check_values(x / 4, {3}, {0.25, -0.5, 0.875});
    check_values(neg(x), {3}, {-1, 2, -3.5});
    check_values(-x, {3}, {-1, 2, -3.5});
    const Tensor y = Tensor::from_vector({2, 4, 0.5}, {3});
    check_values(x + y, {3}, {3, 2, 4});
    check_values(x - y, {3}, {-1, -6, 3});
    check_values(x * y, {3}, {2, -8, 1.75});
    check_values(x / y, {3}, {0.5, -0.5, 7});
}

TEST_CASE("scalar arithmetic and the operators: gradients") {
    // By hand: d/dx (3 - 2x) / 4 = -0.5 everywhere
    Tensor x = leaf({1, -2}, {2});
    ((3 - x * 2) / 4).backward(Tensor::ones({2}));
    check_values(x.grad(), {2}, {-0.5, -0.5});
    // The tensor operators record the op they stand for.
    Tensor y = leaf({1, 2}, {2});
    CHECK(std::string((x + y).op_name()) == "add");
    CHECK(std::string((x - y).op_name()) == "sub");
    CHECK(std::string((x * y).op_name()) == "mul");
    CHECK(std::string((x / y).op_name()) == "div");
    for (const Shape& shape : {Shape{3}, Shape{2, 3}, Shape{}}) {
        CAPTURE(to_string(shape));
        const Tensor t = random_tensor(shape, 8);
        check_gradients([](const std::vector<Tensor>& in) { return add(in[0], 2.5); }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return mul(in[0], -1.5); }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return neg(in[0]); }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return 2 - in[0]; }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return in[0] - 2; }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return 3 * in[0] / 4; }, {t});
        check_gradients([](const std::vector<Tensor>& in) { return -in[0] + 1; }, {t});
    }
}

TEST_CASE("scalar arithmetic: an undefined input throws naming the op") {
    CHECK(contains(thrown_message([] { add(Tensor(), 1); }), "add_scalar: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { mul(Tensor(), 1); }), "mul_scalar: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { neg(Tensor()); }), "neg: the input is an undefined tensor"));
}

// ---- pow, exp, log, sqrt ------------------------------------------------------------------------------------

TEST_CASE("pow, exp, log, sqrt: values") {
    check_values(pow(Tensor::from_vector({2, 3, -2}, {3}), 2), {3}, {4, 9, 4});
    check_values(pow(Tensor::from_vector({-2}, {1}), 3), {1}, {-8});              // integer p: negative x is fine
    check_values(pow(Tensor::from_vector({4, 9}, {2}), 0.5), {2}, {2, 3});
    check_values(pow(Tensor::from_vector({4}, {}), -1.5), {}, {0.125});           // 1 / 4^1.5 = 1 / 8
    CHECK(std::isnan(pow(Tensor::from_vector({-4}, {1}), 0.5).item()));          // documented: x > 0 needed
    check_values(exp(Tensor::from_vector({0, 1, -1}, {3})), {3}, {1, 2.718281828459045, 0.36787944117144233});
    check_values(log(Tensor::from_vector({1, std::exp(1.0), 0.5}, {3})), {3}, {0, 1, -0.6931471805599453});
    check_values(sqrt(Tensor::from_vector({4, 2.25, 0}, {3})), {3}, {2, 1.5, 0});
}

TEST_CASE("pow, exp, log, sqrt: derivatives by hand") {
    // d/dx x^3 at 2 = 3 * 2^2 = 12;  d/dx x^0.5 at 4 = 0.5 * 4^-0.5 = 0.25
    Tensor x = leaf({2}, {});
    pow(x, 3).backward();
    check_values(x.grad(), {}, {12});
    Tensor four = leaf({4}, {});
    pow(four, 0.5).backward();
    check_values(four.grad(), {}, {0.25});
    four.zero_grad();
    sqrt(four).backward();  // 1 / (2 sqrt 4)
    check_values(four.grad(), {}, {0.25});
    four.zero_grad();
    log(four).backward();   // 1 / 4
    check_values(four.grad(), {}, {0.25});
    Tensor zero = leaf({0}, {});
    exp(zero).backward();   // e^0
    check_values(zero.grad(), {}, {1});
    zero.zero_grad();
    pow(zero, 0).backward();  // x^0 = 1 is constant: derivative 0, not 0 * 0^-1 = nan
    check_values(zero.grad(), {}, {0});
}

TEST_CASE("pow, exp, log, sqrt: gradient checks") {
    for (const Shape& shape : {Shape{5}, Shape{2, 3}, Shape{}}) {
        CAPTURE(to_string(shape));
        const Tensor any = random_tensor(shape, 9, true, -1, 1);
        const Tensor positive = random_tensor(shape, 10, true, 0.5, 2);  // away from 0 for log, sqrt, x^-1.5
        check_gradients([](const std::vector<Tensor>& in) { return pow(in[0], 3); }, {any});
        check_gradients([](const std::vector<Tensor>& in) { return pow(in[0], 2); }, {any});
        check_gradients([](const std::vector<Tensor>& in) { return pow(in[0], 0.5); }, {positive});
        check_gradients([](const std::vector<Tensor>& in) { return pow(in[0], -1.5); }, {positive});
        check_gradients([](const std::vector<Tensor>& in) { return exp(in[0]); }, {any});
        check_gradients([](const std::vector<Tensor>& in) { return log(in[0]); }, {positive});
        check_gradients([](const std::vector<Tensor>& in) { return sqrt(in[0]); }, {positive});
    }
}

TEST_CASE("pow, exp, log, sqrt: an undefined input throws naming the op") {
    CHECK(contains(thrown_message([] { pow(Tensor(), 2); }), "pow: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { exp(Tensor()); }), "exp: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { log(Tensor()); }), "log: the input is an undefined tensor"));
    CHECK(contains(thrown_message([] { sqrt(Tensor()); }), "sqrt: the input is an undefined tensor"));
}

// ---- where and masked_fill ----------------------------------------------------------------------------------

TEST_CASE("where: values and gradients by hand") {
    // condition [[1, 0, 1], [0, 0, 2]] (any nonzero is true), a = [[1, 2, 3], [4, 5, 6]], b = [10, 20, 30]
    const Tensor condition = Tensor::from_vector({1, 0, 1, 0, 0, 2}, {2, 3});
    Tensor a = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    Tensor b = leaf({10, 20, 30}, {3});
    const Tensor out = where(condition, a, b);
    check_values(out, {2, 3}, {1, 20, 3, 10, 20, 6});
    where(condition, a, b).backward(Tensor::ones({2, 3}));
    check_values(a.grad(), {2, 3}, {1, 0, 1, 0, 0, 1});  // where condition is true
    check_values(b.grad(), {3}, {1, 2, 0});              // per column, how many rows chose b: 1, 2, 0
    // condition (2, 1) picks whole rows; a () and b (3,) stretch
    const Tensor rows = Tensor::from_vector({0, -1}, {2, 1});
    check_values(where(rows, Tensor::scalar(7), Tensor::from_vector({1, 2, 3}, {3})), {2, 3}, {1, 2, 3, 7, 7, 7});
}

TEST_CASE("where: the condition receives no gradient") {
    Tensor condition = leaf({1, 0}, {2});
    Tensor a = leaf({1, 2}, {2});
    Tensor b = leaf({3, 4}, {2});
    where(condition, a, b).backward(Tensor::ones({2}));
    CHECK_FALSE(condition.grad().defined());
    check_values(a.grad(), {2}, {1, 0});
    check_values(b.grad(), {2}, {0, 1});
}

TEST_CASE("where: gradient checks at broadcasting shapes") {
    struct Case {
        Shape condition_shape;
        std::vector<Scalar> condition;
        Shape a, b;
    };
    // Every case has both true and false elements, so both a and b receive some gradient.
    const std::vector<Case> cases = {
        {{2, 3}, {1, 0, 1, 0, 0, 1}, {2, 3}, {2, 3}},
        {{2, 3}, {1, 0, 1, 0, 0, 1}, {2, 3}, {3}},
        {{3}, {1, 0, 1}, {2, 1}, {}},
        {{2, 1}, {0, 1}, {3}, {2, 3}},
        {{2, 1, 1}, {1, 0}, {3, 1}, {4}},
    };
    for (const Case& c : cases) {
        const std::string shapes =
            to_string(c.condition_shape) + ", " + to_string(c.a) + ", " + to_string(c.b);
        CAPTURE(shapes);
        const Tensor condition = Tensor::from_vector(c.condition, c.condition_shape);
        check_gradients([condition](const std::vector<Tensor>& in) { return where(condition, in[0], in[1]); },
                        {random_tensor(c.a, 11), random_tensor(c.b, 12)});
    }
}

TEST_CASE("where: shapes that do not broadcast throw with every shape") {
    const std::string bad_condition =
        thrown_message([] { where(Tensor::zeros({4}), Tensor::zeros({2, 3}), Tensor::zeros({3})); });
    CHECK(contains(bad_condition, "where: condition (4,), a (2, 3) and b (3,) cannot broadcast"));
    const std::string bad_b =
        thrown_message([] { where(Tensor::zeros({3}), Tensor::zeros({2, 3}), Tensor::zeros({4})); });
    CHECK(contains(bad_b, "(2, 3)"));
    CHECK(contains(bad_b, "(4,)"));
}

TEST_CASE("masked_fill: values, -infinity, and gradients by hand") {
    const Scalar inf = std::numeric_limits<Scalar>::infinity();
    Tensor x = leaf({1, 2, 3, 4, 5, 6}, {2, 3});
    const Tensor mask = Tensor::from_vector({0, 1, 0}, {3});  // masks column 1 in every row
    const Tensor out = masked_fill(x, mask, -inf);
    CHECK(out.shape() == Shape{2, 3});
    CHECK(out.data()[1] == -inf);
    CHECK(out.data()[4] == -inf);
    CHECK(out.data()[0] == 1);
    CHECK(out.data()[5] == 6);
    masked_fill(x, mask, -inf).backward(Tensor::ones({2, 3}));
    check_values(x.grad(), {2, 3}, {1, 0, 1, 1, 0, 1});  // 0 where masked, and no nan from the inf
    // mask (2, 1) = [[1], [0]] fills the first row; mask () = 1 fills everything
    check_values(masked_fill(x, Tensor::from_vector({1, 0}, {2, 1}), 7), {2, 3}, {7, 7, 7, 4, 5, 6});
    check_values(masked_fill(x, Tensor::scalar(1), -1), {2, 3}, {-1, -1, -1, -1, -1, -1});
}

TEST_CASE("masked_fill: gradient checks at broadcasting shapes") {
    const std::vector<std::pair<Shape, std::vector<Scalar>>> masks = {
        {{2, 3}, {0, 1, 0, 1, 0, 0}}, {{3}, {1, 0, 0}}, {{2, 1}, {0, 1}}, {{}, {0}}};
    for (const auto& mask_case : masks) {
        const Shape& mask_shape = mask_case.first;  // (clang < 16 cannot capture a structured binding)
        const std::vector<Scalar>& mask_values = mask_case.second;
        CAPTURE(to_string(mask_shape));
        const Tensor mask = Tensor::from_vector(mask_values, mask_shape);
        // A moderate fill value: with -1e9 the probed loss is ~1e9 and its rounding (~1e-7) swamps the
        // finite difference. The -infinity case is checked by hand above.
        check_gradients([mask](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, -5); },
                        {random_tensor({2, 3}, 13)});
    }
    const Tensor mask = Tensor::from_vector({0, 1, 0}, {3, 1});
    check_gradients([mask](const std::vector<Tensor>& in) { return masked_fill(in[0], mask, 0); },
                    {random_tensor({2, 3, 4}, 14)});
}

TEST_CASE("masked_fill: a mask that does not broadcast to the input's shape throws with both") {
    const std::string wrong = thrown_message([] { masked_fill(Tensor::zeros({2, 3}), Tensor::zeros({4}), 0); });
    CHECK(contains(wrong, "(2, 3)"));
    CHECK(contains(wrong, "(4,)"));
    // A mask may not make the output larger than the input: (2, 3) broadcasts with (3,) but is not (3,).
    const std::string larger = thrown_message([] { masked_fill(Tensor::zeros({3}), Tensor::zeros({2, 3}), 0); });
    CHECK(contains(larger, "(3,)"));
    CHECK(contains(larger, "(2, 3)"));
}

// ---- erf ------------------------------------------------------------------------------------------------

TEST_CASE("erf: values and derivative worked out by hand") {
    // erf(0) = 0; erf(0.5) = 0.520499877813; erf is odd: erf(-0.5) = -0.520499877813; erf(1) = 0.842700792950
    check_values(erf(Tensor::from_vector({0, 0.5, -0.5, 1}, {4})), {4},
                 {0, 0.520499877813, -0.520499877813, 0.842700792950}, 1e-11);
    // d/dx erf = 2/sqrt(pi) e^(-x^2):  at 0: 2/sqrt(pi) = 1.128379167096
    //   at +-0.5: 1.128379167096 * e^(-0.25) = 1.128379167096 * 0.778800783071 = 0.878782578935
    //   at 1:     1.128379167096 * e^(-1)    = 1.128379167096 * 0.367879441171 = 0.415107497420
    Tensor x = leaf({0, 0.5, -0.5, 1}, {4});
    erf(x).backward(Tensor::ones({4}));
    check_values(x.grad(), {4}, {1.128379167096, 0.878782578935, 0.878782578935, 0.415107497420}, 1e-11);
}

TEST_CASE("erf: gradient checks") {
    for (const Shape& shape : {Shape{5}, Shape{2, 3}, Shape{2, 3, 4}, Shape{}}) {
        CAPTURE(to_string(shape));
        const Tensor x = random_tensor(shape, 11, true, -2, 2);
        check_gradients([](const std::vector<Tensor>& in) { return erf(in[0]); }, {x});
    }
}

TEST_CASE("erf: an undefined input throws naming the op") {
    CHECK(contains(thrown_message([] { erf(Tensor()); }), "erf: the input is an undefined tensor"));
}
