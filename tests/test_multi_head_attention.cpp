// multi_head_attention (core/ops/attention.cpp): attention read straight from a packed (B, T, 3C)
// projection. Checked against the composition it replaces (reshape, permute, slice,
// scaled_dot_product_attention, permute, reshape), values and gradients; a forward value by hand;
// gradient checks; bad shapes; and bit-identical results on 1 and 2 threads.
#include <algorithm>
#include <array>
#include <cmath>
#include <initializer_list>
#include <limits>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// What MultiHeadSelfAttention did before the fused op, from primitive ops and the (B, H, T, D) kernel.
Tensor composite_multi_head(const Tensor& qkv, int64_t heads, const Tensor& bias, Scalar scale) {
    const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = heads, D = C / H;
    Tensor split = permute(reshape(qkv, {B, T, 3, H, D}), {2, 0, 3, 1, 4});  // (3, B, H, T, D)
    Tensor q = reshape(slice(split, 0, 0, 1), {B, H, T, D});
    Tensor k = reshape(slice(split, 0, 1, 2), {B, H, T, D});
    Tensor v = reshape(slice(split, 0, 2, 3), {B, H, T, D});
    Tensor out = scaled_dot_product_attention(q, k, v, bias, scale);        // (B, H, T, D)
    return reshape(permute(out, {0, 2, 1, 3}), {B, T, C});                 // (B, T, C)
}

// out, then the gradients of qkv and (if defined) bias, after backpropagating sum(out * probe).
std::vector<Tensor> value_and_grads(bool fused, Tensor qkv, int64_t heads, Tensor bias, Scalar scale,
                                    const Tensor& probe) {
    qkv.zero_grad();
    if (bias.defined()) bias.zero_grad();
    Tensor out = fused ? multi_head_attention(qkv, heads, bias, scale) : composite_multi_head(qkv, heads, bias, scale);
    sum(out * probe).backward();
    std::vector<Tensor> result{out.detach(), qkv.grad()};
    if (bias.defined()) result.push_back(bias.grad());
    return result;
}

}  // namespace

TEST_CASE("multi_head_attention: by hand, B = 1, T = 2, one head of D = 1, so C = 1 and qkv = [q | k | v]") {
    // token 0: q = 1, k = 0, v = 2;   token 1: q = 0, k = 1, v = 4;   scale 1
    // query 0: scores (q0 k0, q0 k1) = (0, 1) -> p = (1, e) / (1 + e) = (0.268941, 0.731059)
    //          out = 0.268941 * 2 + 0.731059 * 4 = 3.462117
    // query 1: scores (0, 0) -> p = (0.5, 0.5) -> out = 3
    const Tensor qkv = Tensor::from_vector({1, 0, 2, 0, 1, 4}, {1, 2, 3});
    check_values(multi_head_attention(qkv, 1, Tensor(), 1), {1, 2, 1}, {3.462117157, 3.0}, 1e-8);
}

TEST_CASE("multi_head_attention: equals reshape + permute + scaled_dot_product_attention + permute") {
    // (B, T, C, heads): several heads, T = 20 (the row maximum's 16-wide blocks and a tail), one head
    for (const auto& sizes : {std::array<int64_t, 4>{2, 5, 8, 2}, {1, 20, 6, 3}, {3, 4, 4, 1}}) {
        // (named one by one: clang < 16 cannot capture a structured binding, and CAPTURE below does)
        const int64_t B = sizes[0], T = sizes[1], C = sizes[2], H = sizes[3];
        const Tensor qkv = random_tensor({B, T, 3 * C}, 21, true, -2, 2);
        const Tensor probe = random_tensor({B, T, C}, 22, false);
        for (const Shape& bias_shape : {Shape{}, Shape{1, H, T, T}, Shape{B, 1, T, T}, Shape{T, T}, Shape{B, H, T, T}}) {
            CAPTURE(B);
            CAPTURE(T);
            CAPTURE(H);
            CAPTURE(to_string(bias_shape));
            const Tensor bias = bias_shape.empty() ? Tensor() : random_tensor(bias_shape, 23, true, -3, 3);
            const std::vector<Tensor> fused = value_and_grads(true, qkv, H, bias, 0.4, probe);
            const std::vector<Tensor> composite = value_and_grads(false, qkv, H, bias, 0.4, probe);
            REQUIRE(fused.size() == composite.size());
            for (size_t i = 0; i < fused.size(); ++i) {
                CAPTURE(i);  // 0 out, 1 dqkv, 2 dbias
                check_close(fused[i], composite[i], 1e-12);
            }
        }
    }
}

TEST_CASE("multi_head_attention: gradient checks of qkv and of a relative-position-style bias") {
    const Tensor qkv = random_tensor({2, 4, 12}, 31, true, -1.5, 1.5);  // C = 4, 2 heads of D = 2
    check_gradients([](const std::vector<Tensor>& in) { return multi_head_attention(in[0], 2, Tensor(), 0.7); },
                    {qkv});
    const Tensor bias = random_tensor({1, 2, 4, 4}, 32, true, -1, 1);
    check_gradients([](const std::vector<Tensor>& in) { return multi_head_attention(in[0], 2, in[1], 0.7); },
                    {qkv, bias});
    const Tensor qkv_one_head = random_tensor({1, 3, 6}, 33, true);
    check_gradients([](const std::vector<Tensor>& in) { return multi_head_attention(in[0], 1, Tensor(), 1.0); },
                    {qkv_one_head});
}

TEST_CASE("multi_head_attention: the weights are returned, and a fully masked row throws naming qkv") {
    const Tensor qkv = random_tensor({1, 3, 6}, 41, false);
    Tensor weights;
    multi_head_attention(qkv, 2, Tensor(), 1.0, &weights);
    REQUIRE(weights.shape() == Shape{1, 2, 3, 3});
    for (int64_t row = 0; row < 6; ++row) {
        double total = 0;
        for (int64_t j = 0; j < 3; ++j) total += weights.data()[row * 3 + j];
        CHECK(total == doctest::Approx(1.0).epsilon(1e-12));
    }
    Tensor mask = Tensor::zeros({3, 3});
    for (int64_t j = 0; j < 3; ++j) mask.data()[1 * 3 + j] = -std::numeric_limits<Scalar>::infinity();
    const std::string message = thrown_message([&] { multi_head_attention(qkv, 2, mask, 1.0); });
    CHECK(contains(message, "query 1 of batch 0, head 0"));
    CHECK(contains(message, "qkv (1, 3, 6)"));
}

TEST_CASE("multi_head_attention: bad shapes throw, naming them") {
    const Tensor qkv = random_tensor({2, 4, 12}, 51, false);
    CHECK(contains(thrown_message([&] { multi_head_attention(random_tensor({4, 12}, 1, false), 2, Tensor(), 1); }),
                   "qkv (4, 12) must have 3 dimensions (B, T, 3C)"));
    CHECK(contains(thrown_message([&] { multi_head_attention(qkv, 5, Tensor(), 1); }),
                   "qkv (2, 4, 12) has 12 features, which is not 3 * heads * D for heads = 5"));
    CHECK(contains(thrown_message([&] { multi_head_attention(qkv, 0, Tensor(), 1); }), "heads = 0"));
    CHECK(contains(thrown_message([&] { multi_head_attention(qkv, 2, random_tensor({3, 3}, 2, false), 1); }),
                   "bias (3, 3) does not broadcast to the scores' shape (B, H, T, T) = (2, 2, 4, 4) of qkv (2, 4, 12)"));
}

TEST_CASE("multi_head_attention: bit-identical values and gradients on 1 and 2 threads") {
    // B*H*T*T*D = 16 * 4 * 24 * 24 * 8 = 294912 >= kParallelElements: the pair loop runs in parallel.
    const Tensor qkv = random_tensor({16, 24, 96}, 61, true, -2, 2);
    const Tensor probe = random_tensor({16, 24, 32}, 62, false);
    const Tensor bias = random_tensor({1, 4, 24, 24}, 63, true);
    const auto one = with_threads(1, [&] { return value_and_grads(true, qkv, 4, bias, 0.35, probe); });
    const auto two = with_threads(2, [&] { return value_and_grads(true, qkv, 4, bias, 0.35, probe); });
    REQUIRE(one.size() == two.size());
    for (size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        REQUIRE(one[i].shape() == two[i].shape());
        CHECK(std::equal(one[i].data(), one[i].data() + one[i].numel(), two[i].data()));
    }
}
