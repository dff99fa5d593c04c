// scaled_dot_product_attention (core/ops/attention.cpp): values by hand, gradient checks of q, k, v and
// every kind of bias, the fused kernel against the same computation built from primitive ops, the
// returned weights, masks, bad shapes, and bit-identical results on 1 and 2 threads.
#include <cmath>
#include <limits>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

const Scalar kInf = std::numeric_limits<Scalar>::infinity();

// The same attention from primitive ops: softmax(q @ k^T * scale + bias, -1) @ v.
Tensor composite_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, Scalar scale) {
    Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;  // (B, H, T, T)
    if (bias.defined()) scores = scores + bias;
    return matmul(softmax(scores, -1), v);                    // (B, H, T, D)
}

// Runs attention (fused or composite), backpropagates sum(out * probe), and returns out followed by the
// gradients of q, k, v and (if defined) bias. Grads are cleared first.
std::vector<Tensor> value_and_grads(bool fused, std::vector<Tensor> in, const Tensor& bias, Scalar scale,
                                    const Tensor& probe) {
    Tensor b = bias;
    for (Tensor& t : in) t.zero_grad();
    if (b.defined()) b.zero_grad();
    Tensor out = fused ? scaled_dot_product_attention(in[0], in[1], in[2], b, scale)
                       : composite_attention(in[0], in[1], in[2], b, scale);
    sum(out * probe).backward();
    std::vector<Tensor> result{out.detach(), in[0].grad(), in[1].grad(), in[2].grad()};
    if (b.defined()) result.push_back(b.grad());
    return result;
}

bool bit_identical(const Tensor& a, const Tensor& b) {
    if (a.shape() != b.shape()) return false;
    for (int64_t i = 0; i < a.numel(); ++i)
        if (a.data()[i] != b.data()[i]) return false;
    return true;
}

}  // namespace

TEST_CASE("attention: values worked out by hand, T = 2, D = 1") {
    // One batch, one head, two tokens, head size 1, scale 1/2:
    //   q = [2 ln 3, 0]^T   k = [1, 0]^T   v = [1, 3]^T
    //   S = q k^T * 1/2 = [[ln 3, 0],      softmax rows: [3/4, 1/4]  (e^ln3 = 3: 3 / (3 + 1))
    //                      [0,    0]]                    [1/2, 1/2]
    //   out = P v = [3/4 * 1 + 1/4 * 3, 1/2 * 1 + 1/2 * 3] = [1.5, 2]
    const Scalar ln3 = std::log(Scalar(3));
    Tensor q = Tensor::from_vector({2 * ln3, 0}, {1, 1, 2, 1});
    Tensor k = Tensor::from_vector({1, 0}, {1, 1, 2, 1});
    Tensor v = Tensor::from_vector({1, 3}, {1, 1, 2, 1});
    Tensor weights;
    check_values(scaled_dot_product_attention(q, k, v, Tensor(), 0.5, &weights), {1, 1, 2, 1}, {1.5, 2}, 1e-12);
    check_values(weights, {1, 1, 2, 2}, {0.75, 0.25, 0.5, 0.5}, 1e-12);
    // With a (T, T) bias [[0, ln 3], [0, -inf]]:
    //   S + bias = [[ln 3, ln 3],  -> [1/2, 1/2]    out row 0 = 1/2 * 1 + 1/2 * 3 = 2
    //               [0,   -inf]]   -> [1,   0  ]    out row 1 = 1 * 1 + 0 * 3     = 1   (e^-inf = 0)
    Tensor bias = Tensor::from_vector({0, ln3, 0, -kInf}, {2, 2});
    check_values(scaled_dot_product_attention(q, k, v, bias, 0.5, &weights), {1, 1, 2, 1}, {2, 1}, 1e-12);
    check_values(weights, {1, 1, 2, 2}, {0.5, 0.5, 1, 0}, 1e-12);
}

TEST_CASE("attention: gradient checks of q, k, v and bias, every broadcast of the bias") {
    struct Case {
        Shape qkv;
        Shape bias;  // empty: no bias
    };
    const std::vector<Case> cases = {
        {{1, 1, 3, 2}, {}},                    // no bias
        {{2, 3, 4, 3}, {}},
        {{2, 3, 4, 3}, {1, 3, 4, 4}},          // relative position bias, shared by the batch
        {{2, 2, 5, 3}, {2, 1, 5, 5}},          // a mask, shared by the heads
        {{3, 2, 4, 2}, {4, 4}},                // one (T, T) bias for everything
        {{2, 2, 3, 2}, {2, 2, 3, 3}},          // a full bias: nothing broadcast
        {{2, 3, 4, 2}, {3, 4, 4}},             // rank 3: (H, T, T)
        {{2, 2, 5, 2}, {2, 1, 1, 5}},          // a key-padding bias, broadcast over heads and queries
        {{4, 2, 3, 2}, {2, 2, 3, 3}},          // a bias per window, repeated over 2 images (batch 2 of 4)
    };
    for (const Case& c : cases) {
        CAPTURE(to_string(c.qkv));
        CAPTURE(to_string(c.bias));
        const Scalar scale = 1 / std::sqrt(static_cast<Scalar>(c.qkv[3]));
        Tensor q = random_tensor(c.qkv, 1, true, -1.5, 1.5);
        Tensor k = random_tensor(c.qkv, 2, true, -1.5, 1.5);
        Tensor v = random_tensor(c.qkv, 3, true);
        if (c.bias.empty()) {
            check_gradients([scale](const std::vector<Tensor>& in) {
                return scaled_dot_product_attention(in[0], in[1], in[2], Tensor(), scale);
            }, {q, k, v});
        } else {
            Tensor bias = random_tensor(c.bias, 4, true, -1, 1);
            check_gradients([scale](const std::vector<Tensor>& in) {
                return scaled_dot_product_attention(in[0], in[1], in[2], in[3], scale);
            }, {q, k, v, bias});
        }
    }
}

TEST_CASE("attention: gradient check with a Swin-style -100 mask (B, 1, T, T)") {
    // Entry (i, j) is masked when i and j fall in different halves of the sequence, as in a shifted
    // window where tokens from different image regions must not attend to each other.
    const int64_t B = 2, H = 2, T = 4, D = 3;
    std::vector<Scalar> mask_values;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) mask_values.push_back(b == 1 && (i < 2) != (j < 2) ? -100 : 0);
    Tensor mask = Tensor::from_vector(mask_values, {B, 1, T, T});
    mask.requires_grad_(true);
    Tensor q = random_tensor({B, H, T, D}, 5), k = random_tensor({B, H, T, D}, 6), v = random_tensor({B, H, T, D}, 7);
    check_gradients([](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0.5);
    }, {q, k, v, mask});
}

TEST_CASE("attention: the fused kernel equals matmul, mul, add, softmax, matmul: values and gradients") {
    // Each pair's (T, T) block has rows of T rounded up to whole vectors: T = 5 and 20 leave padding
    // lanes, T = 16 none (with 16 floats or 2, 4 or 8 doubles a vector). D = 3 and 4 are not whole vectors,
    // so the products that read rows of q, k, v or dout go through padded copies (padded_product); D = 16
    // is, so they read the rows where they lie.
    for (const Shape& shape : {Shape{2, 3, 5, 4}, Shape{1, 2, 20, 3}, Shape{2, 2, 16, 16}, Shape{1, 2, 20, 16}}) {
        const int64_t B = shape[0], H = shape[1], T = shape[2];
        const Scalar scale = 0.5;
        std::vector<Tensor> in = {random_tensor(shape, 11, true, -2, 2), random_tensor(shape, 12, true, -2, 2),
                                  random_tensor(shape, 13, true, -2, 2)};
        const Tensor probe = random_tensor(shape, 14, false);
        const std::vector<Shape> bias_shapes = {{}, {1, H, T, T}, {B, 1, T, T}, {T, T}, {B, H, T, T}};
        for (const Shape& bias_shape : bias_shapes) {
            CAPTURE(to_string(shape));
            CAPTURE(to_string(bias_shape));
            Tensor bias = bias_shape.empty() ? Tensor() : random_tensor(bias_shape, 15, true, -3, 3);
            const std::vector<Tensor> fused = value_and_grads(true, in, bias, scale, probe);
            const std::vector<Tensor> composite = value_and_grads(false, in, bias, scale, probe);
            REQUIRE(fused.size() == composite.size());
            for (size_t i = 0; i < fused.size(); ++i) {
                CAPTURE(i);  // 0 out, 1 dq, 2 dk, 3 dv, 4 dbias
                check_close(fused[i], composite[i], 1e-10);
            }
        }
    }
}

TEST_CASE("attention: a bias whose batch divides B is the same bias repeated over the batch, values and gradients") {
    // Swin's shifted windows: a mask per window (nW, ...), window b of the batch being window b mod nW of
    // its image. The fused op reads block b mod nW; the composite gets the bias laid out over the whole
    // batch by expand + reshape, whose backward sums the repeats, so dbias must come out the same.
    const int64_t B = 6, H = 2, T = 5, D = 4;
    const Shape shape{B, H, T, D};
    std::vector<Tensor> in = {random_tensor(shape, 71, true, -2, 2), random_tensor(shape, 72, true, -2, 2),
                              random_tensor(shape, 73, true, -2, 2)};
    const Tensor probe = random_tensor(shape, 74, false);
    for (const Shape& bias_shape : {Shape{3, H, T, T}, Shape{2, 1, T, T}}) {
        CAPTURE(to_string(bias_shape));
        Tensor bias = random_tensor(bias_shape, 75, true, -3, 3);
        const std::vector<Tensor> fused = value_and_grads(true, in, bias, 0.5, probe);
        // the composite, with the repeats written out
        for (Tensor& t : in) t.zero_grad();
        bias.zero_grad();
        const int64_t Bb = bias_shape[0];
        const Tensor repeated =
            reshape(expand(reshape(bias, {1, Bb, bias_shape[1], T, T}), {B / Bb, Bb, bias_shape[1], T, T}),
                    {B, bias_shape[1], T, T});
        Tensor out = composite_attention(in[0], in[1], in[2], repeated, 0.5);
        sum(out * probe).backward();
        const std::vector<Tensor> composite{out.detach(), in[0].grad(), in[1].grad(), in[2].grad(), bias.grad()};
        REQUIRE(fused.size() == composite.size());
        for (size_t i = 0; i < fused.size(); ++i) {
            CAPTURE(i);  // 0 out, 1 dq, 2 dk, 3 dv, 4 dbias
            check_close(fused[i], composite[i], 1e-10);
        }
        // the textbook twin reads the bias the same way
        check_close(scaled_dot_product_attention_reference(in[0], in[1], in[2], bias, 0.5), fused[0], 1e-10);
    }
    // a batch that does not divide B is refused, naming both
    const std::string message = thrown_message([&] {
        scaled_dot_product_attention(in[0], in[1], in[2], Tensor::zeros({4, H, T, T}), 0.5);
    });
    CHECK(contains(message, "(4, 2, 5, 5)"));
    CHECK(contains(message, "(6, 2, 5, 5)"));
    CHECK(contains(message, "may also divide B"));
}

TEST_CASE("attention: gradients only for the inputs that require grad; no grad mode keeps nothing") {
    const Shape shape{2, 2, 3, 2};
    Tensor q = random_tensor(shape, 21, true);
    Tensor k = random_tensor(shape, 22, false), v = random_tensor(shape, 23, false);
    Tensor bias = random_tensor({3, 3}, 24, false);
    Tensor out = scaled_dot_product_attention(q, k, v, bias, 0.7);
    sum(out * random_tensor(shape, 25, false)).backward();
    CHECK(q.grad().defined());
    CHECK(!k.grad().defined());
    CHECK(!v.grad().defined());
    CHECK(!bias.grad().defined());
    // Inference (P kept one row at a time, not saved) computes the same numbers.
    NoGradGuard no_grad;
    Tensor inference = scaled_dot_product_attention(q, k, v, bias, 0.7);
    CHECK(!inference.requires_grad());
    CHECK(bit_identical(inference, out));
}

TEST_CASE("attention: gradients accumulate (+=) into grads that already hold something") {
    // Two backward passes through the same graph must give exactly twice one pass, for every input and
    // for a full bias and a broadcast one (both gathered from every pair's dS afterwards).
    const Shape shape{2, 2, 3, 2};
    for (const Shape& bias_shape : {Shape{2, 2, 3, 3}, Shape{1, 2, 3, 3}}) {
        CAPTURE(to_string(bias_shape));
        std::vector<Tensor> in = {random_tensor(shape, 26), random_tensor(shape, 27), random_tensor(shape, 28),
                                  random_tensor(bias_shape, 29)};
        Tensor out = scaled_dot_product_attention(in[0], in[1], in[2], in[3], 0.6);
        Tensor loss = sum(out * random_tensor(shape, 30, false));
        loss.backward(/*retain_graph=*/true);
        std::vector<Tensor> once;
        for (const Tensor& t : in) once.push_back(t.grad().clone());
        loss.backward();
        for (size_t i = 0; i < in.size(); ++i) {
            CAPTURE(i);
            check_close(in[i].grad(), once[i] * Scalar(2), 1e-14);
        }
    }
}

TEST_CASE("attention: the weights are returned, without grad, and each row sums to 1") {
    const Shape shape{2, 3, 6, 4};
    Tensor q = random_tensor(shape, 31, true, -2, 2), k = random_tensor(shape, 32, true, -2, 2);
    Tensor v = random_tensor(shape, 33, true);
    Tensor bias = random_tensor({1, 3, 6, 6}, 34, false, -1, 1);
    Tensor weights;
    scaled_dot_product_attention(q, k, v, bias, 0.5, &weights);
    REQUIRE(weights.shape() == Shape{2, 3, 6, 6});
    CHECK(!weights.requires_grad());
    for (int64_t row = 0; row < 2 * 3 * 6; ++row) {
        Scalar total = 0;
        for (int64_t j = 0; j < 6; ++j) {
            const Scalar p = weights.data()[row * 6 + j];
            CHECK(p > 0);
            total += p;
        }
        CHECK(std::abs(total - 1) < 1e-12);
    }
    // They are the composite's softmax(q k^T * scale + bias).
    check_close(weights, softmax(matmul(q, transpose(k, -2, -1)) * Scalar(0.5) + bias, -1).detach(), 1e-12);
    // Asked for under NoGradGuard too (the case where P would otherwise not be kept).
    NoGradGuard no_grad;
    Tensor weights2;
    scaled_dot_product_attention(q, k, v, bias, 0.5, &weights2);
    CHECK(bit_identical(weights, weights2));
}

TEST_CASE("attention: a -inf bias gives probability exactly 0, and finite gradients") {
    const int64_t B = 2, H = 2, T = 4, D = 3;
    // A causal mask: query i sees keys j <= i. Every row keeps at least key 0.
    std::vector<Scalar> mask_values;
    for (int64_t i = 0; i < T; ++i)
        for (int64_t j = 0; j < T; ++j) mask_values.push_back(j <= i ? 0 : -kInf);
    Tensor mask = Tensor::from_vector(mask_values, {T, T});
    Tensor q = random_tensor({B, H, T, D}, 41), k = random_tensor({B, H, T, D}, 42);
    Tensor v = random_tensor({B, H, T, D}, 43);
    Tensor weights;
    Tensor out = scaled_dot_product_attention(q, k, v, mask, 0.5, &weights);
    for (int64_t pair = 0; pair < B * H; ++pair)
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) {
                const Scalar p = weights.data()[(pair * T + i) * T + j];
                if (j > i) CHECK(p == 0);
                else CHECK(p > 0);
            }
    // Query 0 sees only key 0: its output is v's row 0 exactly.
    for (int64_t d = 0; d < D; ++d) CHECK(out.data()[d] == v.data()[d]);
    sum(out * random_tensor({B, H, T, D}, 44, false)).backward();
    for (const Tensor& t : {q, k, v})
        for (Scalar g : t.grad().to_vector()) CHECK(std::isfinite(g));
    // q, k, v still pass a gradient check with the -inf mask (the mask itself, constant, is not checked).
    check_gradients([mask](const std::vector<Tensor>& in) {
        return scaled_dot_product_attention(in[0], in[1], in[2], mask, 0.5);
    }, {q, k, v});
}

TEST_CASE("attention: a row with every key masked by -inf throws, naming the row") {
    Tensor q = random_tensor({1, 2, 3, 2}, 51), k = random_tensor({1, 2, 3, 2}, 52);
    Tensor v = random_tensor({1, 2, 3, 2}, 53);
    // Head 1, query 2 has every key at -inf.
    std::vector<Scalar> mask_values(2 * 3 * 3, 0);
    for (int64_t j = 0; j < 3; ++j) mask_values[(1 * 3 + 2) * 3 + j] = -kInf;
    Tensor mask = Tensor::from_vector(mask_values, {1, 2, 3, 3});
    const std::string message = thrown_message([&] { scaled_dot_product_attention(q, k, v, mask, 1); });
    CHECK(contains(message, "query 2 of batch 0, head 1"));
    CHECK(contains(message, "-inf"));
    CHECK(contains(message, "(1, 2, 3, 3)"));
    // Under NoGradGuard as well (the path that keeps no P).
    NoGradGuard no_grad;
    CHECK(contains(thrown_message([&] { scaled_dot_product_attention(q, k, v, mask, 1); }), "query 2"));
}

TEST_CASE("attention: bad shapes throw, naming every shape") {
    Tensor q = Tensor::ones({2, 3, 4, 5});
    const Tensor k = Tensor::ones({2, 3, 4, 6});
    std::string message = thrown_message([&] { scaled_dot_product_attention(q, k, q, Tensor(), 1); });
    CHECK(contains(message, "(2, 3, 4, 5)"));
    CHECK(contains(message, "(2, 3, 4, 6)"));
    // k and v with another T: this op is self-attention only.
    message = thrown_message([&] { scaled_dot_product_attention(q, q, Tensor::ones({2, 3, 7, 5}), Tensor(), 1); });
    CHECK(contains(message, "(2, 3, 7, 5)"));
    CHECK(contains(message, "(2, 3, 4, 5)"));
    // q of the wrong rank
    message = thrown_message([&] {
        Tensor x = Tensor::ones({3, 4, 5});
        scaled_dot_product_attention(x, x, x, Tensor(), 1);
    });
    CHECK(contains(message, "(3, 4, 5)"));
    CHECK(contains(message, "(B, H, T, D)"));
    // a bias that does not broadcast to (B, H, T, T) = (2, 3, 4, 4)
    for (const Shape& bad : {Shape{2, 4, 4, 4}, Shape{4, 5}, Shape{1, 2, 3, 4, 4}, Shape{3, 1, 4, 4}}) {
        message = thrown_message([&] { scaled_dot_product_attention(q, q, q, Tensor::zeros(bad), 1); });
        CHECK(contains(message, to_string(bad)));
        CHECK(contains(message, "(2, 3, 4, 4)"));
        CHECK(contains(message, "(2, 3, 4, 5)"));
    }
    message = thrown_message([&] { scaled_dot_product_attention(Tensor(), q, q, Tensor(), 1); });
    CHECK(contains(message, "q is an undefined"));
}

#ifdef _OPENMP
TEST_CASE("attention: bit-identical values and gradients on 1 and 2 threads") {
    // Large enough that both the pair loop (B*H*T*T*D = 294912) and the dbias reduction (B*H*T*T = 36864)
    // run in parallel (threshold kParallelElements = 32768).
    const Shape shape{16, 4, 24, 8};
    std::vector<Tensor> in = {random_tensor(shape, 61, true, -2, 2), random_tensor(shape, 62, true, -2, 2),
                              random_tensor(shape, 63, true)};
    const Tensor probe = random_tensor(shape, 64, false);
    const int before = omp_get_max_threads();
    for (const Shape& bias_shape :
         {Shape{1, 4, 24, 24}, Shape{16, 1, 24, 24}, Shape{16, 4, 24, 24}, Shape{24, 24}, Shape{4, 4, 24, 24}}) {
        CAPTURE(to_string(bias_shape));
        Tensor bias = random_tensor(bias_shape, 65, true, -1, 1);
        omp_set_num_threads(1);
        const std::vector<Tensor> one = value_and_grads(true, in, bias, Scalar(0.35), probe);
        omp_set_num_threads(2);
        const std::vector<Tensor> two = value_and_grads(true, in, bias, Scalar(0.35), probe);
        omp_set_num_threads(before);
        REQUIRE(one.size() == two.size());
        for (size_t i = 0; i < one.size(); ++i) {
            CAPTURE(i);  // 0 out, 1 dq, 2 dk, 3 dv, 4 dbias
            CHECK(bit_identical(one[i], two[i]));
        }
    }
}
#endif
