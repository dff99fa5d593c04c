// cross_entropy (core/ops/softmax.cpp): values and gradients by hand (with and without label smoothing),
// stability for large logits, gradient checks at several shapes and smoothings, the fused kernel against
// -mean(sum(q * log_softmax(logits), -1)) with q built as a tensor, and bad shapes and targets.
#include <cmath>
#include <vector>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// Targets 0, 1, .., C-1, 0, 1, ..: every class appears, as whole numbers stored as Scalar.
Tensor cyclic_targets(int64_t N, int64_t C) {
    Tensor t = Tensor::empty({N});
    for (int64_t n = 0; n < N; ++n) t.data()[n] = static_cast<Scalar>((n * 7 + 3) % C);
    return t;
}

// q = (1 - s) onehot(targets) + s / C, as a (N, C) tensor.
Tensor smoothed_targets(const Tensor& targets, int64_t C, Scalar s) {
    const int64_t N = targets.size(0);
    Tensor q = Tensor::full({N, C}, s / C);
    for (int64_t n = 0; n < N; ++n) q.data()[n * C + static_cast<int64_t>(targets.data()[n])] += 1 - s;
    return q;
}

}  // namespace

TEST_CASE("cross_entropy: values and gradients worked out by hand") {
    // logits [0, ln 3]: softmax = [1, 3] / 4 = [0.25, 0.75].
    //   target 1:  loss = -ln(3/4) = 0.2876820725;  dlogits = p - onehot = [0.25, -0.25]
    Tensor logits = Tensor::from_vector({0, std::log(3.0)}, {1, 2});
    logits.requires_grad_();
    Tensor loss = cross_entropy(logits, Tensor::from_vector({1}, {1}));
    check_values(loss, {}, {0.2876820725}, 1e-9);
    loss.backward();
    check_values(logits.grad(), {1, 2}, {0.25, -0.25}, 1e-12);
    // Smoothing s = 0.2, C = 2: q = 0.8 * [0, 1] + 0.1 = [0.1, 0.9]
    //   loss = -(0.1 ln 0.25 + 0.9 ln 0.75) = 0.1 * 1.3862943611 + 0.9 * 0.2876820725 = 0.3975433014
    //   dlogits = p - q = [0.25 - 0.1, 0.75 - 0.9] = [0.15, -0.15]
    logits.zero_grad();
    Tensor smoothed = cross_entropy(logits, Tensor::from_vector({1}, {1}), 0.2);
    check_values(smoothed, {}, {0.3975433014}, 1e-9);
    smoothed.backward();
    check_values(logits.grad(), {1, 2}, {0.15, -0.15}, 1e-12);
    // Two rows, the mean: row [0, ln 3] target 1 gives 0.2876820725, the same row with target 0 gives
    // -ln(1/4) = 1.3862943611; mean = 0.8369882168. dlogits = (p - q) / N = [0.125, -0.125, -0.375, 0.375]
    Tensor two = Tensor::from_vector({0, std::log(3.0), 0, std::log(3.0)}, {2, 2});
    two.requires_grad_();
    Tensor mean_loss = cross_entropy(two, Tensor::from_vector({1, 0}, {2}));
    check_values(mean_loss, {}, {0.8369882168}, 1e-9);
    mean_loss.backward(Tensor::scalar(2));  // dout = 2 scales the gradient: [0.25, -0.25, -0.75, 0.75]
    check_values(two.grad(), {2, 2}, {0.25, -0.25, -0.75, 0.75}, 1e-12);
}

TEST_CASE("cross_entropy: stable for large logits") {
    // [1000, 1000 + ln 3]: e^1000 overflows, but after subtracting the max the answer is as above.
    Tensor logits = Tensor::from_vector({1000, 1000 + std::log(3.0)}, {1, 2});
    check_values(cross_entropy(logits, Tensor::from_vector({1}, {1})), {}, {0.2876820725}, 1e-9);
    check_values(cross_entropy(-logits, Tensor::from_vector({0}, {1})), {}, {0.2876820725}, 1e-9);
}

TEST_CASE("cross_entropy: gradient checks at several shapes and smoothings") {
    for (const Shape& shape : {Shape{1, 2}, Shape{3, 5}, Shape{8, 3}}) {
        for (Scalar s : {0.0, 0.1, 1.0}) {
            CAPTURE(to_string(shape));
            CAPTURE(s);
            Tensor logits = random_tensor(shape, 1, true, -3, 3);
            const Tensor targets = cyclic_targets(shape[0], shape[1]);
            check_gradients([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], targets, s); },
                            {logits});
        }
    }
}

TEST_CASE("cross_entropy: the fused kernel equals -mean(sum(q * log_softmax(logits), -1))") {
    // (300, 128) has 38400 elements: the threaded paths.
    for (const Shape& shape : {Shape{4, 3}, Shape{6, 10}, Shape{300, 128}}) {
        for (Scalar s : {0.0, 0.1}) {
            CAPTURE(to_string(shape));
            CAPTURE(s);
            Tensor logits = random_tensor(shape, 2, true, -4, 4);
            const Tensor targets = cyclic_targets(shape[0], shape[1]);
            const Tensor q = smoothed_targets(targets, shape[1], s);
            Tensor fused = cross_entropy(logits, targets, s);
            fused.backward(Tensor::scalar(1.7));
            const Tensor fused_grad = logits.grad();
            logits.zero_grad();
            Tensor composite = -mean(sum(q * log_softmax(logits, -1), -1));
            composite.backward(Tensor::scalar(1.7));
            check_close(fused, composite, 1e-10);
            check_close(fused_grad, logits.grad(), 1e-10);
        }
    }
}

TEST_CASE("cross_entropy: the gradient accumulates (+=) across backward passes") {
    Tensor logits = random_tensor({3, 4}, 3, true, -2, 2);
    const Tensor targets = cyclic_targets(3, 4);
    cross_entropy(logits, targets, 0.1).backward();
    const Tensor once = logits.grad().clone();
    cross_entropy(logits, targets, 0.1).backward();
    check_close(logits.grad(), once * Scalar(2), 1e-12);
}

TEST_CASE("cross_entropy: bad shapes and targets are named") {
    const std::string rank = thrown_message([] { cross_entropy(Tensor::ones({2, 3, 4}), Tensor::zeros({2})); });
    CHECK(contains(rank, "(2, 3, 4)"));
    CHECK(contains(rank, "(2,)"));
    const std::string count = thrown_message([] { cross_entropy(Tensor::ones({3, 5}), Tensor::zeros({4})); });
    CHECK(contains(count, "(3, 5)"));
    CHECK(contains(count, "(4,)"));
    CHECK(contains(thrown_message([] { cross_entropy(Tensor::ones({3, 5}), Tensor::zeros({3, 1})); }), "(3, 1)"));
    // A target equal to C, a negative one, and a fraction: the message names the row and the value.
    const std::string big =
        thrown_message([] { cross_entropy(Tensor::ones({3, 5}), Tensor::from_vector({0, 5, 1}, {3})); });
    CHECK(contains(big, "target 5 at row 1"));
    CHECK(contains(big, "(3, 5)"));
    CHECK(contains(thrown_message([] { cross_entropy(Tensor::ones({2, 5}), Tensor::from_vector({-1, 0}, {2})); }),
                   "target -1 at row 0"));
    CHECK(contains(thrown_message([] { cross_entropy(Tensor::ones({2, 5}), Tensor::from_vector({0, 1.5}, {2})); }),
                   "target 1.5 at row 1"));
    CHECK(contains(thrown_message([] { cross_entropy(Tensor::ones({2, 5}), Tensor::zeros({2}), 1.5); }),
                   "label_smoothing 1.5"));
}
