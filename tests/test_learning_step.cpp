// optim/learning_step.h: one batch in, the parameters one step further. With plain SGD (no momentum, no
// decay) the update is p <- p - lr * dL/dp exactly, so the step can be checked against a loss and its
// gradient computed here by hand: softmax cross-entropy of a linear model, whose gradient with respect to
// the weight is (softmax(z) - y)^T x / B. A mixed batch (mixup, CutMix) is scored against both labels:
// L = lambda CE(z, y) + (1 - lambda) CE(z, y'), so its gradient is the same mix of the two.
#include <cmath>

#include "core/ops.h"
#include "nn/linear.h"
#include "optim/learning_step.h"
#include "optim/sgd.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

constexpr int64_t B = 3, D = 4, K = 5;

// The mean over the batch of -log softmax(z_b)[label_b], and its gradient with respect to W (K, D) for
// z = x W^T (no bias), by hand.
struct HandLoss {
    double loss = 0;
    std::vector<double> dW = std::vector<double>(K * D, 0.0);
};
HandLoss cross_entropy_by_hand(const Tensor& x, const Tensor& W, const std::vector<int64_t>& labels) {
    HandLoss out;
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> z(K);
        double most = -1e300, total = 0;
        for (int64_t k = 0; k < K; ++k) {
            for (int64_t d = 0; d < D; ++d) z[k] += double(x.data()[b * D + d]) * double(W.data()[k * D + d]);
            most = std::max(most, z[k]);
        }
        for (int64_t k = 0; k < K; ++k) total += std::exp(z[k] - most);
        out.loss += (std::log(total) + most - z[labels[b]]) / B;
        for (int64_t k = 0; k < K; ++k) {
            const double p = std::exp(z[k] - most) / total - (k == labels[b] ? 1 : 0);
            for (int64_t d = 0; d < D; ++d) out.dW[k * D + d] += p * double(x.data()[b * D + d]) / B;
        }
    }
    return out;
}

Tensor labels_tensor(const std::vector<int64_t>& labels) {
    std::vector<Scalar> values(labels.begin(), labels.end());
    return Tensor::from_vector(values, {B});
}

}  // namespace

TEST_CASE("learning_step: the loss, and p <- p - lr dL/dp with plain SGD, against a loss worked by hand") {
    Rng rng(5);
    Linear model(D, K, rng, /*has_bias=*/false);
    SGD sgd(model.named_parameters(), 0.1);
    const Tensor x = random_tensor({B, D}, 1, false);
    const std::vector<int64_t> labels = {1, 4, 0};
    const Tensor before = model.weight.detach().clone();
    const HandLoss hand = cross_entropy_by_hand(x, before, labels);
    LearningStepSettings settings;
    settings.lr = 0.5;
    settings.max_grad_norm = 1e30;
    const LearningStepResult result =
        learning_step([&](const Tensor& images) { return model.forward(images); }, x, labels_tensor(labels), sgd, settings);
    REQUIRE(result.stepped);
    CHECK(result.loss == doctest::Approx(hand.loss).epsilon(1e-12));
    for (int64_t i = 0; i < K * D; ++i)
        CHECK(double(model.weight.data()[i]) == doctest::Approx(double(before.data()[i]) - 0.5 * hand.dW[i]).epsilon(1e-12));
}

TEST_CASE("learning_step: a mixed batch is scored lambda CE(y) + (1 - lambda) CE(y'), and stepped on that") {
    const Tensor x = random_tensor({B, D}, 2, false);
    const std::vector<int64_t> labels = {2, 2, 3}, partners = {0, 4, 1};
    for (const double lambda : {0.3, 1.0}) {
        CAPTURE(lambda);
        Rng rng(7);
        Linear model(D, K, rng, /*has_bias=*/false);
        SGD sgd(model.named_parameters(), 0.1);
        const Tensor before = model.weight.detach().clone();
        const HandLoss a = cross_entropy_by_hand(x, before, labels), b = cross_entropy_by_hand(x, before, partners);
        LearningStepSettings settings;
        settings.lr = 0.5;
        settings.max_grad_norm = 1e30;
        settings.mixed_labels = labels_tensor(partners);
        settings.mix_weight = lambda;
        const LearningStepResult result = learning_step([&](const Tensor& images) { return model.forward(images); }, x,
                                                        labels_tensor(labels), sgd, settings);
        REQUIRE(result.stepped);
        CHECK(result.loss == doctest::Approx(lambda * a.loss + (1 - lambda) * b.loss).epsilon(1e-12));
        for (int64_t i = 0; i < K * D; ++i) {
            const double grad = lambda * a.dW[i] + (1 - lambda) * b.dW[i];
            CHECK(double(model.weight.data()[i]) == doctest::Approx(double(before.data()[i]) - 0.5 * grad).epsilon(1e-12));
        }
    }
}

TEST_CASE("learning_step: a non-finite loss is not stepped on, and the parameters stay as they were") {
    Rng rng(3);
    Linear model(D, K, rng, /*has_bias=*/false);
    SGD sgd(model.named_parameters(), 0.1);
    Tensor x = random_tensor({B, D}, 4, false);
    x.data()[0] = std::nan("");
    const Tensor before = model.weight.detach().clone();
    LearningStepSettings settings;
    const LearningStepResult result = learning_step([&](const Tensor& images) { return model.forward(images); }, x,
                                                    labels_tensor({0, 1, 2}), sgd, settings);
    CHECK_FALSE(result.stepped);
    CHECK(std::isnan(result.loss));
    for (int64_t i = 0; i < K * D; ++i) CHECK(model.weight.data()[i] == before.data()[i]);
}
