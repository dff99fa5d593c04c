#pragma once
// The learning step: the heart of training, one batch in, the parameters one step further.
//
//     optimizer.set_lr(lr);                                 1. the schedule's rate for this step
//     optimizer.zero_grad();                                   last step's gradients would add into this one's
//     Tensor logits = forward(images);                      2. forward: images (B, C, H, W) -> logits (B, K)
//     Tensor loss = cross_entropy(logits, labels, s);       3. the loss, a scalar, with label smoothing s
//                                                              (a mixed batch: the same mix of two losses)
//     loss.backward();                                      4. every parameter's gradient
//     norm = clip_grad_norm(parameters, max_grad_norm);     5. bound the update's length
//     optimizer.step();                                     6. the update
//
// That is all of it: no files, no signals, no progress lines. The training command
// (examples/cli/train.cpp) calls it once per batch and keeps the schedule, checkpoints, resume, NaN
// handling and metrics around it. A loss or gradient norm that is not finite is not stepped on: the
// result says so, the parameters are left as they were, and the caller decides (stop, or skip the batch).
// docs/training.md walks through it; `make exercise NAME=training_step` has the learner write it.
#include <functional>

#include "core/tensor.h"
#include "nn/module.h"
#include "optim/optimizer.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

struct LearningStepSettings {
    Scalar lr = 1e-3;                 // this step's learning rate (the schedule's)
    Scalar label_smoothing = 0;       // cross_entropy's target: (1 - s) on the label + s spread over the classes
    Scalar max_grad_norm = 1;         // clip the global gradient norm to this; a huge value: no clipping
    Kernels loss_kernels = Kernels::fast;  // reference: cross_entropy_reference, the textbook twin
    // A batch of mixed images (mixup, CutMix: datasets/augment.h), image i = lambda x_i + (1 - lambda) x_i',
    // is scored against both labels in the same proportion:
    //     loss = lambda CE(logits, labels) + (1 - lambda) CE(logits, mixed_labels)
    Tensor mixed_labels;              // (B) the partner images' labels; undefined: the batch is not mixed
    Scalar mix_weight = 1;            // lambda, the weight of `labels`
    // For tests: runs after the backward, before the clip (to plant a fault in a gradient).
    std::function<void()> after_backward;
};

struct LearningStepResult {
    Tensor logits;           // (B, K): the forward's output, for the accuracy
    double loss = 0;         // the batch's loss, before the update
    double grad_norm = 0;    // the gradient's global norm, before clipping
    bool stepped = false;    // false: the loss or the norm was not finite; the parameters are unchanged
};

LearningStepResult learning_step(const std::function<Tensor(const Tensor&)>& forward, const Tensor& images,
                                 const Tensor& labels, Optimizer& optimizer, const LearningStepSettings& settings);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
