#pragma once
// ImageClassifier: what the training loop, evaluation and the tools need of a model, whatever its
// architecture (VisionTransformer in nn/vit.h, SwinTransformer in nn/swin.h).
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class ImageClassifier : public Module {
public:
    // images (B, C, S, S), normalised -> logits (B, num_classes). `rng` drives dropout in training mode.
    virtual Tensor forward(const Tensor& images, Rng& rng) const = 0;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
