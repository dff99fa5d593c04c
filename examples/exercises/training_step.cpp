// Exercise: the learning step.                                    make exercise NAME=training_step
//
// Training repeats one step, batch after batch (docs/training.md, "The loop, step by step"):
//     batch -> forward -> loss -> backward -> clip -> step
// Your job: that step. model(images) gives logits (N, classes); the loss is cross_entropy(logits, labels)
// (no smoothing); the gradient, seen as one long vector over every parameter, is clipped to length
// max_grad_norm; the optimizer updates the parameters. Return the loss (the batch's, before the update).
//
// Hints, in the order you may want them:
//   1. Gradients accumulate (+=) across backward calls: what must happen before the forward?
//   2. optimizer.named_parameters() lists (name, tensor) pairs; clip_grad_norm (optim/clip.h) takes the
//      tensors. Clip after the backward has made the gradients and before the step uses them.
//   3. loss.item() is the loss as a number.
//
//   model, images (N, features), labels (N), optimizer, max_grad_norm  ->  loss
#include "examples/exercises/exercise.h"
#include "optim/clip.h"

namespace learner {

double training_step(const std::function<Tensor(const Tensor&)>& model, const Tensor& images, const Tensor& labels,
                     Optimizer& optimizer, double max_grad_norm) {
    // Your code here: one step, then return the loss.
    not_implemented("training_step");
}

}  // namespace learner

// The grader (examples/exercises/grading/training_step.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, training_step_info,
                        [](Grader& grader) { grade_training_step(learner::training_step, grader); });
}
