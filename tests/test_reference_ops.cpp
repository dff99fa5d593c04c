// Every fused op and its textbook twin in the library (the *_reference ops of core/ops.h) compute the same
// function: values and every input's gradient agree to 1e-10 in float64, through a random probe.
#include <cmath>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// out and the gradient of every input of sum(f(inputs) * probe), on fresh copies of the inputs.
std::vector<Tensor> value_and_gradients(const TensorFunction& f, const std::vector<Tensor>& inputs, uint64_t probe_seed) {
    std::vector<Tensor> leaves;
    for (const Tensor& t : inputs) {
        Tensor copy = t.clone();
        copy.requires_grad_(t.requires_grad());
        leaves.push_back(copy);
    }
    Tensor out = f(leaves);
    const Tensor probe = random_tensor(out.shape(), probe_seed, false);
    sum(out * probe).backward();
    std::vector<Tensor> results = {out.detach()};
    for (const Tensor& leaf : leaves)
        if (leaf.requires_grad()) results.push_back(leaf.grad());
    return results;
}

// The fast op and its twin agree, values and gradients, within `tolerance` (absolute, on values of order 1).
void check_twins(const char* name, const TensorFunction& fast, const TensorFunction& reference,
                 const std::vector<Tensor>& inputs, double tolerance = 1e-10) {
    CAPTURE(name);
    const std::vector<Tensor> a = value_and_gradients(fast, inputs, 99);
    const std::vector<Tensor> b = value_and_gradients(reference, inputs, 99);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CAPTURE(i);  // 0: the value; 1, 2, ...: the gradients of the inputs that require grad
        REQUIRE(a[i].shape() == b[i].shape());
        double worst = 0;
        for (int64_t j = 0; j < a[i].numel(); ++j) worst = std::max(worst, std::abs(a[i].data()[j] - b[i].data()[j]));
        CHECK(worst <= tolerance);
    }
}

}  // namespace

TEST_CASE("reference ops: linear and linear_reference agree, with and without a bias") {
    for (const Shape& x_shape : {Shape{3, 4}, Shape{2, 5, 4}, Shape{1, 4}}) {
        const std::vector<Tensor> in = {random_tensor(x_shape, 1), random_tensor({6, 4}, 2), random_tensor({6}, 3)};
        check_twins("linear", [](const std::vector<Tensor>& t) { return linear(t[0], t[1], t[2]); },
                    [](const std::vector<Tensor>& t) { return linear_reference(t[0], t[1], t[2]); }, in);
        check_twins("linear without bias", [](const std::vector<Tensor>& t) { return linear(t[0], t[1], Tensor()); },
                    [](const std::vector<Tensor>& t) { return linear_reference(t[0], t[1], Tensor()); }, {in[0], in[1]});
    }
}

TEST_CASE("reference ops: layer_norm and layer_norm_reference agree") {
    for (const Shape& shape : {Shape{3, 5}, Shape{2, 3, 8}, Shape{1, 2}}) {
        const int64_t C = shape.back();
        const std::vector<Tensor> in = {random_tensor(shape, 4, true, -2, 2), random_tensor({C}, 5), random_tensor({C}, 6)};
        for (double eps : {1e-5, 0.3}) {
            auto fast = [eps](const std::vector<Tensor>& t) { return layer_norm(t[0], t[1], t[2], eps); };
            auto reference = [eps](const std::vector<Tensor>& t) { return layer_norm_reference(t[0], t[1], t[2], eps); };
            check_twins("layer_norm", fast, reference, in);
        }
    }
}

TEST_CASE("reference ops: gelu, softmax, log_softmax and their twins agree") {
    for (const Shape& shape : {Shape{7}, Shape{3, 5}, Shape{2, 3, 4}}) {
        const std::vector<Tensor> in = {random_tensor(shape, 7, true, -4, 4)};
        check_twins("gelu", [](const std::vector<Tensor>& t) { return gelu(t[0]); },
                    [](const std::vector<Tensor>& t) { return gelu_reference(t[0]); }, in);
        for (int64_t dim : {int64_t(-1), int64_t(0)}) {
            check_twins("softmax", [dim](const std::vector<Tensor>& t) { return softmax(t[0], dim); },
                        [dim](const std::vector<Tensor>& t) { return softmax_reference(t[0], dim); }, in);
            check_twins("log_softmax", [dim](const std::vector<Tensor>& t) { return log_softmax(t[0], dim); },
                        [dim](const std::vector<Tensor>& t) { return log_softmax_reference(t[0], dim); }, in);
        }
    }
}

TEST_CASE("reference ops: cross_entropy and cross_entropy_reference agree, with label smoothing") {
    const Tensor logits = random_tensor({5, 4}, 8, true, -3, 3);
    const Tensor targets = Tensor::from_vector({0, 3, 1, 1, 2}, {5});
    for (double smoothing : {0.0, 0.1, 1.0}) {
        auto fast = [&](const std::vector<Tensor>& t) { return cross_entropy(t[0], targets, smoothing); };
        auto reference = [&](const std::vector<Tensor>& t) { return cross_entropy_reference(t[0], targets, smoothing); };
        check_twins("cross_entropy", fast, reference, {logits});
    }
    CHECK(contains(thrown_message([&] { cross_entropy_reference(logits, Tensor::from_vector({0, 4, 0, 0, 0}, {5}), 0); }),
                   "target 4 of row 1 is not a class number in [0, 4)"));
}

TEST_CASE("reference ops: scaled dot-product and multi-head attention agree with their twins, with a bias") {
    const std::vector<Tensor> qkv = {random_tensor({2, 3, 5, 4}, 9), random_tensor({2, 3, 5, 4}, 10),
                                     random_tensor({2, 3, 5, 4}, 11)};
    const Tensor bias = random_tensor({1, 3, 5, 5}, 12, false);
    for (bool with_bias : {false, true}) {
        const Tensor b = with_bias ? bias : Tensor();
        check_twins("scaled_dot_product_attention",
                    [b](const std::vector<Tensor>& t) { return scaled_dot_product_attention(t[0], t[1], t[2], b, 0.5); },
                    [b](const std::vector<Tensor>& t) {
                        return scaled_dot_product_attention_reference(t[0], t[1], t[2], b, 0.5);
                    },
                    qkv);
        const Tensor packed = random_tensor({2, 5, 3 * 12}, 13);  // B 2, T 5, C 12 = 3 heads of 4
        check_twins("multi_head_attention",
                    [b](const std::vector<Tensor>& t) { return multi_head_attention(t[0], 3, b, 0.5); },
                    [b](const std::vector<Tensor>& t) { return multi_head_attention_reference(t[0], 3, b, 0.5); },
                    {packed});
    }
    // The probabilities they report are the same too.
    Tensor fast_weights, reference_weights;
    multi_head_attention(random_tensor({1, 4, 12}, 14), 2, Tensor(), 0.3, &fast_weights);
    multi_head_attention_reference(random_tensor({1, 4, 12}, 14), 2, Tensor(), 0.3, &reference_weights);
    REQUIRE(fast_weights.shape() == reference_weights.shape());
    for (int64_t i = 0; i < fast_weights.numel(); ++i)
        CHECK(std::abs(fast_weights.data()[i] - reference_weights.data()[i]) <= 1e-12);
}

TEST_CASE("reference ops: the twins refuse bad shapes naming them") {
    CHECK(contains(thrown_message([] { multi_head_attention_reference(Tensor::zeros({2, 5, 10}), 3, Tensor(), 1); }),
                   "qkv (2, 5, 10) must be (B, T, 3C) with C a multiple of heads = 3"));
    CHECK(contains(thrown_message([] { cross_entropy_reference(Tensor::zeros({4, 3}), Tensor::zeros({5}), 0); }),
                   "logits (4, 3) must be (N, C) and targets (5,) (N)"));
    // linear_reference and layer_norm_reference are made of ops that name both shapes themselves.
    CHECK(contains(thrown_message([] { linear_reference(Tensor::zeros({2, 4}), Tensor::zeros({3, 5}), Tensor()); }),
                   "(2, 4)"));
    CHECK(contains(thrown_message([] {
              layer_norm_reference(Tensor::zeros({2, 4}), Tensor::ones({3}), Tensor::zeros({3}), 1e-5);
          }),
          "(3,)"));
}
