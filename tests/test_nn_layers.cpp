// The basic layers of nn/: trunc_normal (init.h), Linear, LayerNorm, Dropout, Mlp, MultiHeadSelfAttention.
// For each layer: parameter names and shapes, a forward value worked out by hand, gradient checks of the
// input and of every parameter (the module's own parameter handles are passed to gradcheck, which
// perturbs them in place, so the lambda can ignore in[1..] and call the module), and bad shapes.
#include <cmath>
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/init.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/mlp.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// Overwrites t's numbers in place (t is a handle: the module sees the change) with uniform [low, high).
void fill_uniform(Tensor t, uint64_t seed, Scalar low = -1, Scalar high = 1) {
    Rng rng(seed);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<Scalar>(rng.uniform(low, high));
}

void set_values(Tensor t, const std::vector<Scalar>& values) {
    REQUIRE(static_cast<size_t>(t.numel()) == values.size());
    for (size_t i = 0; i < values.size(); ++i) t.data()[i] = values[i];
}

// Names and shapes of a module's parameters, in order.
void check_parameters(const Module& m, const std::vector<std::pair<std::string, Shape>>& expected) {
    const auto named = m.named_parameters();
    REQUIRE(named.size() == expected.size());
    for (size_t i = 0; i < expected.size(); ++i) {
        CHECK(named[i].first == expected[i].first);
        CHECK_MESSAGE(named[i].second.shape() == expected[i].second, named[i].first, " has shape ",
                      to_string(named[i].second.shape()), ", expected ", to_string(expected[i].second));
    }
}

}  // namespace

// ---- init -----------------------------------------------------------------------------------------------

TEST_CASE("trunc_normal: within +-2 std, the truncated normal's spread, reproducible from the seed") {
    Rng rng(1);
    const Tensor t = trunc_normal({100, 100}, 0.02, rng);
    CHECK(!t.requires_grad());
    double total = 0, squares = 0, largest = 0;
    for (Scalar v : t.to_vector()) {
        total += v;
        squares += double(v) * v;
        largest = std::max(largest, std::abs(double(v)));
    }
    const double n = double(t.numel()), mean = total / n, std = std::sqrt(squares / n - mean * mean);
    CHECK(largest <= 0.04);               // nothing beyond 2 std
    CHECK(largest > 0.035);               // but the tails are reached (not a uniform or a clipped normal)
    CHECK(std::abs(mean) < 0.001);        // 3 standard errors: 3 * 0.0176 / sqrt(10000) = 0.00053
    // A normal cut at +-2 std has std sqrt(1 - 2*2*phi(2)/(Phi(2)-Phi(-2))) = 0.8796 of the uncut one.
    CHECK(std::abs(std - 0.8796 * 0.02) < 0.0005);
    Rng again(1);
    CHECK(trunc_normal({100, 100}, 0.02, again).to_vector() == t.to_vector());
    CHECK(contains(thrown_message([&] { trunc_normal({2}, 0.0, rng); }), "std must be positive"));
}

// ---- Linear ---------------------------------------------------------------------------------------------

TEST_CASE("Linear: parameters, init, and a value by hand") {
    Rng rng(0);
    Linear fc(2, 3, rng);
    check_parameters(fc, {{"weight", {3, 2}}, {"bias", {3}}});
    CHECK(fc.bias.to_vector() == std::vector<Scalar>{0, 0, 0});
    for (Scalar w : fc.weight.to_vector()) CHECK(std::abs(w) <= 0.04);
    Linear no_bias(2, 3, rng, /*has_bias=*/false);
    check_parameters(no_bias, {{"weight", {3, 2}}});
    CHECK_FALSE(no_bias.bias.defined());

    set_values(fc.weight, {1, 2, 3, 4, 5, 6});  // rows (1, 2), (3, 4), (5, 6)
    set_values(fc.bias, {0.5, -1, 2});
    // x = (1, -1):  (1 - 2 + 0.5, 3 - 4 - 1, 5 - 6 + 2) = (-0.5, -2, 1)
    check_values(fc.forward(Tensor::from_vector({1, -1}, {1, 2})), {1, 3}, {-0.5, -2, 1}, 1e-12);
    set_values(no_bias.weight, {1, 2, 3, 4, 5, 6});
    // the same without the bias, applied along the last dim of a (1, 1, 2): (-1, -1, -1)
    check_values(no_bias.forward(Tensor::from_vector({1, -1}, {1, 1, 2})), {1, 1, 3}, {-1, -1, -1}, 1e-12);
}

TEST_CASE("Linear: gradient checks of the input, weight and bias") {
    Rng rng(2);
    Linear fc(4, 3, rng);
    fill_uniform(fc.bias, 3);
    for (const Shape& shape : {Shape{5, 4}, Shape{2, 3, 4}}) {
        CAPTURE(to_string(shape));
        Tensor x = random_tensor(shape, 4);
        check_gradients([&](const std::vector<Tensor>& in) { return fc.forward(in[0]); }, {x, fc.weight, fc.bias});
    }
    Linear no_bias(4, 2, rng, false);
    check_gradients([&](const std::vector<Tensor>& in) { return no_bias.forward(in[0]); },
                    {random_tensor({3, 4}, 5), no_bias.weight});
}

TEST_CASE("Linear: bad arguments and bad input shapes name the values") {
    Rng rng(0);
    CHECK(contains(thrown_message([&] { Linear(0, 3, rng); }), "in_features 0"));
    Linear fc(4, 3, rng);
    const std::string message = thrown_message([&] { fc.forward(Tensor::ones({2, 5})); });
    CHECK(contains(message, "(2, 5)"));
    CHECK(contains(message, "expected 4"));
    CHECK(contains(message, "(3, 4)"));  // the weight
}

// ---- LayerNorm ------------------------------------------------------------------------------------------

TEST_CASE("LayerNorm: parameters, init, and values by hand") {
    LayerNorm norm(3);
    check_parameters(norm, {{"weight", {3}}, {"bias", {3}}});
    CHECK(norm.weight.to_vector() == std::vector<Scalar>{1, 1, 1});
    CHECK(norm.bias.to_vector() == std::vector<Scalar>{0, 0, 0});
    CHECK(norm.eps() == 1e-6);  // timm's ViT
    // x = (1, 2, 3): mean 2, var ((-1)^2 + 0 + 1^2) / 3 = 2/3, 1/sqrt(2/3 + 1e-6) = 1.224743952833969
    const Tensor x = Tensor::from_vector({1, 2, 3}, {1, 3});
    const double s = 1.224743952833969;
    check_values(norm.forward(x), {1, 3}, {-s, 0, s}, 1e-12);
    // weight (2, 1, 0.5), bias (0, 1, -1):  (-2s, 0 + 1, 0.5 s - 1) = (-2.449487905667938, 1, -0.3876280235830155)
    set_values(norm.weight, {2, 1, 0.5});
    set_values(norm.bias, {0, 1, -1});
    check_values(norm.forward(x), {1, 3}, {-2.449487905667938, 1, -0.3876280235830155}, 1e-12);
}

TEST_CASE("LayerNorm: gradient checks of the input, weight and bias") {
    LayerNorm norm(4);
    fill_uniform(norm.weight, 1, 0.5, 1.5);
    fill_uniform(norm.bias, 2);
    for (const Shape& shape : {Shape{5, 4}, Shape{2, 3, 4}}) {
        CAPTURE(to_string(shape));
        Tensor x = random_tensor(shape, 3, true, -2, 2);
        check_gradients([&](const std::vector<Tensor>& in) { return norm.forward(in[0]); },
                        {x, norm.weight, norm.bias});
    }
}

TEST_CASE("LayerNorm: bad arguments and bad input shapes name the values") {
    CHECK(contains(thrown_message([] { LayerNorm(0); }), "dim 0"));
    CHECK(contains(thrown_message([] { LayerNorm(4, 0.0); }), "eps 0"));
    LayerNorm norm(4);
    const std::string message = thrown_message([&] { norm.forward(Tensor::ones({2, 3})); });
    CHECK(contains(message, "(2, 3)"));
    CHECK(contains(message, "(4,)"));
}

// ---- Dropout --------------------------------------------------------------------------------------------

TEST_CASE("Dropout: identity in eval mode and for p = 0") {
    Rng rng(0);
    const Tensor x = random_tensor({3, 4}, 1);
    Dropout drop(0.5);
    CHECK(drop.named_parameters().empty());
    drop.eval();
    const Rng::State before = rng.state();
    CHECK(drop.forward(x, rng).same(x));  // the same tensor: no copy, no graph node
    CHECK(rng.state() == before);         // and nothing drawn
    Dropout none(0.0);                    // in training mode
    CHECK(none.is_training());
    CHECK(none.forward(x, rng).same(x));
}

TEST_CASE("Dropout: training keeps about 1 - p of the elements and scales them by 1/(1-p)") {
    Rng rng(7);
    Dropout drop(0.25);
    const Tensor x = Tensor::full({100, 100}, 3);
    const Tensor y = drop.forward(x, rng);
    int64_t kept = 0;
    for (Scalar v : y.to_vector()) {
        const bool dropped = v == 0;
        CHECK((dropped || std::abs(v - 4.0) < 1e-12));  // 3 / (1 - 0.25) = 4
        kept += dropped ? 0 : 1;
    }
    // 10000 Bernoulli(0.75): mean 7500, std sqrt(10000 * 0.75 * 0.25) = 43; allow 5 std.
    CHECK(std::abs(kept - 7500) < 220);
    // The expectation is preserved: mean(y) = 3 within 5 std (each y has std 4 * sqrt(.1875) = 1.73).
    CHECK(std::abs(mean(y).item() - 3.0) < 5 * 1.73 / 100);
}

TEST_CASE("Dropout: the same seed gives the same mask, another seed another") {
    Dropout drop(0.5);
    const Tensor x = random_tensor({8, 8}, 2, false);
    Rng a(11), b(11), c(12);
    const Tensor ya = drop.forward(x, a);
    CHECK(ya.to_vector() == drop.forward(x, b).to_vector());
    CHECK(ya.to_vector() != drop.forward(x, c).to_vector());
    CHECK(ya.to_vector() != drop.forward(x, a).to_vector());  // the stream moved on: a new mask
}

TEST_CASE("Dropout: gradient check with the mask held fixed by reseeding") {
    Dropout drop(0.3);
    for (const Shape& shape : {Shape{10}, Shape{3, 4, 5}}) {
        CAPTURE(to_string(shape));
        Tensor x = random_tensor(shape, 3);
        check_gradients(
            [&](const std::vector<Tensor>& in) {
                Rng rng(5);  // the same mask on every call
                return drop.forward(in[0], rng);
            },
            {x});
    }
    // The gradient is exactly the mask: 0 where dropped, 1/(1-p) where kept.
    Tensor x = Tensor::ones({50}).requires_grad_();
    Rng rng(9);
    const Tensor y = drop.forward(x, rng);
    sum(y).backward();
    CHECK(x.grad().to_vector() == y.detach().to_vector());  // y = 1 * mask
}

TEST_CASE("Dropout: p outside [0, 1) is refused, naming p") {
    CHECK(contains(thrown_message([] { Dropout(1.0); }), "p 1"));
    CHECK(contains(thrown_message([] { Dropout(-0.1); }), "p -0.1"));
    CHECK(contains(thrown_message([] { Dropout(std::nan("")); }), "0 <= p < 1"));
}

// ---- Mlp ------------------------------------------------------------------------------------------------

TEST_CASE("Mlp: parameter names and shapes, and a value by hand") {
    Rng rng(0);
    Mlp mlp(4, 6, rng);
    check_parameters(mlp, {{"fc1.weight", {6, 4}}, {"fc1.bias", {6}}, {"fc2.weight", {4, 6}}, {"fc2.bias", {4}}});
    CHECK(mlp.parameter_count() == 6 * 4 + 6 + 4 * 6 + 4);

    Mlp tiny(1, 1, rng);
    set_values(tiny.fc1.weight, {2});
    set_values(tiny.fc1.bias, {0});
    set_values(tiny.fc2.weight, {3});
    set_values(tiny.fc2.bias, {1});
    // x = 1: fc1 -> 2; gelu(2) = 2 Phi(2) = 2 * 0.9772498680518208 = 1.9544997361036416;
    // fc2 -> 3 * 1.9544997361036416 + 1 = 6.863499208310925
    check_values(tiny.forward(Tensor::from_vector({1}, {1, 1}), rng), {1, 1}, {6.863499208310925}, 1e-12);
}

TEST_CASE("Mlp: gradient checks of the input and every parameter, without and with dropout") {
    Rng rng(1);
    Mlp mlp(4, 6, rng);
    fill_uniform(mlp.fc1.weight, 2);
    fill_uniform(mlp.fc1.bias, 3);
    fill_uniform(mlp.fc2.weight, 4);
    fill_uniform(mlp.fc2.bias, 5);
    const std::vector<Tensor> params = mlp.parameters();
    for (const Shape& shape : {Shape{3, 4}, Shape{2, 3, 4}}) {
        CAPTURE(to_string(shape));
        std::vector<Tensor> inputs = {random_tensor(shape, 6, true, -2, 2)};
        inputs.insert(inputs.end(), params.begin(), params.end());
        check_gradients([&](const std::vector<Tensor>& in) { return mlp.forward(in[0], rng); }, inputs);
    }
    Mlp dropping(4, 6, rng, 0.25);
    fill_uniform(dropping.fc1.weight, 7);
    fill_uniform(dropping.fc1.bias, 8);
    fill_uniform(dropping.fc2.bias, 9);
    std::vector<Tensor> inputs = {random_tensor({2, 3, 4}, 10, true, -2, 2)};
    for (const Tensor& p : dropping.parameters()) inputs.push_back(p);
    check_gradients(
        [&](const std::vector<Tensor>& in) {
            Rng fixed(3);  // both masks fixed
            return dropping.forward(in[0], fixed);
        },
        inputs);
}

TEST_CASE("Mlp: eval() switches its dropouts off; bad input shapes name the values") {
    Rng rng(0);
    Mlp mlp(4, 8, rng, 0.5);
    const Tensor x = random_tensor({2, 4}, 1, false);
    Rng a(1), b(1);
    const Tensor training = mlp.forward(x, a);
    mlp.eval();
    CHECK_FALSE(mlp.drop1.is_training());
    const Tensor evaluated = mlp.forward(x, b);
    CHECK(training.to_vector() != evaluated.to_vector());
    // In eval mode the output is fc2(gelu(fc1(x))), dropout-free:
    check_close(evaluated, mlp.fc2.forward(gelu(mlp.fc1.forward(x))));
    const std::string message = thrown_message([&] { mlp.forward(Tensor::ones({2, 5}), rng); });
    CHECK(contains(message, "(2, 5)"));
    CHECK(contains(message, "expected 4"));
}

// ---- MultiHeadSelfAttention -----------------------------------------------------------------------------

TEST_CASE("MultiHeadSelfAttention: heads must divide dim; parameter names and shapes; output shape") {
    Rng rng(0);
    CHECK(thrown_message([&] { MultiHeadSelfAttention(130, 4, rng); }) ==
          "MultiHeadSelfAttention: dim 130 is not divisible by heads 4");
    CHECK(contains(thrown_message([&] { MultiHeadSelfAttention(8, 0, rng); }), "heads 0"));
    MultiHeadSelfAttention attn(8, 2, rng);
    check_parameters(attn, {{"qkv.weight", {24, 8}}, {"qkv.bias", {24}}, {"proj.weight", {8, 8}}, {"proj.bias", {8}}});
    CHECK(attn.head_dim() == 4);
    Tensor weights;
    const Tensor y = attn.forward(random_tensor({2, 5, 8}, 1, false), rng, Tensor(), &weights);
    CHECK(y.shape() == Shape{2, 5, 8});
    REQUIRE(weights.shape() == Shape{2, 2, 5, 5});
    for (int64_t row = 0; row < 2 * 2 * 5; ++row) {  // each row of probabilities sums to 1
        double total = 0;
        for (int64_t j = 0; j < 5; ++j) total += weights.data()[row * 5 + j];
        CHECK(std::abs(total - 1) < 1e-12);
    }
}

TEST_CASE("MultiHeadSelfAttention: a value by hand (q = k = 0 gives uniform attention)") {
    Rng rng(0);
    MultiHeadSelfAttention attn(4, 2, rng);
    // qkv: q and k rows all zero, v rows the identity; every bias zero; proj the identity.
    std::vector<Scalar> qkv_weight(12 * 4, 0), eye(4 * 4, 0);
    for (int64_t i = 0; i < 4; ++i) {
        qkv_weight[(8 + i) * 4 + i] = 1;  // v = x
        eye[i * 4 + i] = 1;
    }
    set_values(attn.qkv.weight, qkv_weight);
    set_values(attn.proj.weight, eye);
    // Every score q.k / sqrt(2) is 0, so each head's softmax is (1/3, 1/3, 1/3), and every token's output is
    // the mean of the three tokens' v = x:
    //   x rows (1, 2, 3, 4), (5, 6, 7, 8), (0, -2, 2, 0)  ->  mean (2, 2, 4, 4) for all three tokens
    const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 0, -2, 2, 0}, {1, 3, 4});
    Tensor weights;
    check_values(attn.forward(x, rng, Tensor(), &weights), {1, 3, 4}, {2, 2, 4, 4, 2, 2, 4, 4, 2, 2, 4, 4}, 1e-12);
    check_values(weights, {1, 2, 3, 3}, std::vector<double>(18, 1.0 / 3), 1e-12);
}

namespace {

// The same attention built from matmul, softmax, slice and concat: no attention op, no reshape trick.
// For head h, the q, k, v features are columns [h*D, (h+1)*D) of x W_q^T + b_q, etc.
Tensor reference_attention(const MultiHeadSelfAttention& attn, const Tensor& x, const Tensor& bias) {
    const int64_t C = attn.dim(), H = attn.num_heads(), D = attn.head_dim(), T = x.size(1);
    const auto project = [&](int64_t which) {  // which = 0 (q), 1 (k), 2 (v): (B, T, C)
        const Tensor w = slice(attn.qkv.weight, 0, which * C, (which + 1) * C);  // (C, C)
        const Tensor b = slice(attn.qkv.bias, 0, which * C, (which + 1) * C);    // (C)
        return matmul(x, transpose(w, 0, 1)) + b;
    };
    const Tensor q = project(0), k = project(1), v = project(2);
    std::vector<Tensor> heads;
    for (int64_t h = 0; h < H; ++h) {
        const Tensor qh = slice(q, -1, h * D, (h + 1) * D);                       // (B, T, D)
        const Tensor kh = slice(k, -1, h * D, (h + 1) * D);
        const Tensor vh = slice(v, -1, h * D, (h + 1) * D);
        Tensor scores = matmul(qh, transpose(kh, -2, -1)) * (1 / std::sqrt(Scalar(D)));  // (B, T, T)
        if (bias.defined()) scores = scores + reshape(slice(bias, 1, h, h + 1), {1, T, T});  // bias (1, H, T, T)
        heads.push_back(matmul(softmax(scores, -1), vh));                           // (B, T, D)
    }
    const Tensor merged = concat(heads, -1);                                        // (B, T, C)
    return matmul(merged, transpose(attn.proj.weight, 0, 1)) + attn.proj.bias;      // (B, T, C)
}

}  // namespace

TEST_CASE("MultiHeadSelfAttention: gradient checks of the input and all four parameters (T=3, C=4, H=2)") {
    Rng rng(3);
    MultiHeadSelfAttention attn(4, 2, rng);
    // Large enough weights that the softmax is far from uniform and every path carries gradient.
    fill_uniform(attn.qkv.weight, 1);
    fill_uniform(attn.qkv.bias, 2);
    fill_uniform(attn.proj.weight, 3);
    fill_uniform(attn.proj.bias, 4);
    for (const Shape& shape : {Shape{1, 3, 4}, Shape{2, 3, 4}}) {
        CAPTURE(to_string(shape));
        const Tensor x = random_tensor(shape, 5);
        check_gradients([&](const std::vector<Tensor>& in) { return attn.forward(in[0], rng); },
                        {x, attn.qkv.weight, attn.qkv.bias, attn.proj.weight, attn.proj.bias});
    }
    // With an additive bias (1, H, T, T), which also receives a gradient.
    const Tensor bias = random_tensor({1, 2, 3, 3}, 6);
    check_gradients([&](const std::vector<Tensor>& in) { return attn.forward(in[0], rng, in[1]); },
                    {random_tensor({2, 3, 4}, 7), bias, attn.qkv.weight});
}

TEST_CASE("MultiHeadSelfAttention equals attention built by hand from its parameters, values and gradients") {
    Rng rng(4);
    MultiHeadSelfAttention attn(6, 3, rng);  // D = 2
    fill_uniform(attn.qkv.weight, 1);
    fill_uniform(attn.qkv.bias, 2);
    fill_uniform(attn.proj.weight, 3);
    fill_uniform(attn.proj.bias, 4);
    const Tensor x = random_tensor({2, 4, 6}, 5);
    const Tensor probe = random_tensor({2, 4, 6}, 6, false);
    for (const Tensor& bias : {Tensor(), random_tensor({1, 3, 4, 4}, 7, false, -2, 2)}) {
        CAPTURE(bias.defined());
        std::vector<Tensor> tracked = {x};
        for (const Tensor& p : attn.parameters()) tracked.push_back(p);
        const auto run = [&](const Tensor& y) {  // y's value and the gradients of x and the parameters
            for (Tensor t : tracked) t.zero_grad();
            sum(y * probe).backward();
            std::vector<Tensor> grads = {y.detach()};
            for (const Tensor& t : tracked) grads.push_back(t.grad());
            return grads;
        };
        const std::vector<Tensor> layer = run(attn.forward(x, rng, bias));
        const std::vector<Tensor> reference = run(reference_attention(attn, x, bias));
        for (size_t i = 0; i < layer.size(); ++i) {
            CAPTURE(i);  // 0: the output; 1: dx; 2..5: qkv.weight, qkv.bias, proj.weight, proj.bias
            check_close(layer[i], reference[i], 1e-10);
        }
    }
}

TEST_CASE("MultiHeadSelfAttention: bad input shapes name the values") {
    Rng rng(0);
    MultiHeadSelfAttention attn(4, 2, rng);
    const std::string wrong_c = thrown_message([&] { attn.forward(Tensor::ones({2, 3, 5}), rng); });
    CHECK(contains(wrong_c, "(2, 3, 5)"));
    CHECK(contains(wrong_c, "(B, T, 4)"));
    CHECK(contains(thrown_message([&] { attn.forward(Tensor::ones({3, 4}), rng); }), "(3, 4)"));
}
