#include "optim/learning_step.h"

#include <cmath>

#include "core/ops.h"
#include "optim/clip.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

LearningStepResult learning_step(const std::function<Tensor(const Tensor&)>& forward, const Tensor& images,
                                 const Tensor& labels, Optimizer& optimizer, const LearningStepSettings& settings) {
    LearningStepResult result;
    optimizer.set_lr(settings.lr);                                                   // 1. the schedule
    optimizer.zero_grad();
    result.logits = forward(images);                                                 // 2. forward (B, K)
    const auto loss_against = [&](const Tensor& targets) {                           // 3. the loss ()
        return settings.loss_kernels == Kernels::reference
                   ? cross_entropy_reference(result.logits, targets, settings.label_smoothing)
                   : cross_entropy(result.logits, targets, settings.label_smoothing);
    };
    Tensor loss = loss_against(labels);
    if (settings.mixed_labels.defined())                                             //    a mixed batch
        loss = settings.mix_weight * loss + (1 - settings.mix_weight) * loss_against(settings.mixed_labels);
    result.loss = static_cast<double>(loss.item());
    if (!std::isfinite(result.loss)) return result;                                  // not stepped on
    loss.backward();                                                                 // 4. gradients
    if (settings.after_backward) settings.after_backward();
    std::vector<Tensor> parameters;
    for (const auto& [name, p] : optimizer.named_parameters()) parameters.push_back(p);
    result.grad_norm = static_cast<double>(clip_grad_norm(parameters, settings.max_grad_norm));  // 5. clip
    if (!std::isfinite(result.grad_norm)) return result;                             // not stepped on
    optimizer.step();                                                                // 6. the update
    result.stepped = true;
    return result;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
