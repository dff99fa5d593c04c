// Grades examples/exercises/training_step.cpp: the learning step, the heart of training.
#include "examples/exercises/grading/exercises.h"

#include "nn/linear.h"
#include "optim/adam.h"
#include "optim/learning_step.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo training_step_info{
    20,
    "training_step",
    "the learning step: forward, loss, backward, clip, step",
    "docs/training.md, section The learning step, on one screen",
    "optimizer.zero_grad(); loss = cross_entropy(model(images), labels); loss.backward(); "
    "clip_grad_norm(parameters, max_norm); optimizer.step(); return the loss",
    "you can write the step every training loop repeats, in the order that makes it right",
};

namespace {

// A two-layer classifier, small enough to grade in milliseconds: (N, 6) -> (N, 4).
struct TinyClassifier {
    Linear first, second;
    explicit TinyClassifier(Rng& rng) : first(6, 8, rng), second(8, 4, rng) {}
    Tensor forward(const Tensor& x) const { return second.forward(tanh(first.forward(x))); }
    NamedTensors parameters() const {
        return {{"first.weight", first.weight}, {"first.bias", first.bias}, {"second.weight", second.weight},
                {"second.bias", second.bias}};
    }
};

}  // namespace

void grade_training_step(const TrainingStep& learner_fn, Grader& grader) {
    // Two copies of one model, each with its own AdamW: the learner's steps drive one, the reference the
    // other, on the same batches. Several steps, so a gradient left over from the last step shows; a small
    // max norm, so clipping matters; and a large one, so a step that always clips shows too.
    for (double max_norm : {0.05, 100.0}) {
        const uint64_t model_seed = grader.seed() + 17;
        Rng rng_a(model_seed), rng_b(model_seed);
        TinyClassifier learner_model(rng_a), reference_model(rng_b);
        AdamW learner_optimizer(learner_model.parameters(), 0.05);
        AdamW reference_optimizer(reference_model.parameters(), 0.05);
        for (int step = 1; step <= 4; ++step) {
            grader.begin_case("step " + std::to_string(step) + ", max_grad_norm " + std::to_string(max_norm));
            const Tensor images = grader.random({5, 6});
            Tensor labels = Tensor::empty({5});
            for (int64_t n = 0; n < 5; ++n) labels.data()[n] = static_cast<Scalar>(grader.random_int(0, 3));
            // The step the training command takes (optim/learning_step.h), at the optimizer's own rate.
            LearningStepSettings settings;
            settings.lr = reference_optimizer.lr();
            settings.max_grad_norm = max_norm;
            const double expected_loss =
                learning_step([&](const Tensor& x) { return reference_model.forward(x); }, images, labels,
                              reference_optimizer, settings)
                    .loss;
            const double got_loss = grader.call([&] {
                return learner_fn([&](const Tensor& x) { return learner_model.forward(x); }, images, labels,
                                  learner_optimizer, max_norm);
            });
            grader.expect_close("the returned loss", Tensor::scalar(got_loss), Tensor::scalar(expected_loss), kSameMath,
                                "the loss of this batch before the update");
            const NamedTensors got = learner_model.parameters(), expected = reference_model.parameters();
            for (size_t i = 0; i < got.size(); ++i)
                grader.expect_close(got[i].first + " after the step", got[i].second, expected[i].second, kSameMath,
                                    "learning_step (optim/learning_step.h): zero_grad, forward, cross_entropy, "
                                    "backward, clip, step");
        }
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
