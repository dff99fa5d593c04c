#pragma once
// Linear: out = x @ weight^T + bias, applied to the last dimension.           (torch.nn.Linear)
//   x (.., in) -> (.., out);  e.g. tokens (B, T, C) -> (B, T, 3C) for the attention's qkv
//
//   Linear fc(/*in_features=*/192, /*out_features=*/768, rng);    // weight (768, 192), bias (768)
//
// Parameters (PyTorch names and layouts): weight (out, in), bias (out), or no bias when has_bias=false.
// Init as timm's ViT: weight truncated normal std 0.02 (nn/init.h), bias 0. The arithmetic and its
// backward are the fused `linear` op (core/ops/matmul.cpp).
#include <cstdint>

#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Linear : public Module {
public:
    Linear(int64_t in_features, int64_t out_features, Rng& rng, bool has_bias = true);

    Tensor forward(const Tensor& x) const;  // (.., in) -> (.., out)

    int64_t in_features() const { return in_features_; }
    int64_t out_features() const { return out_features_; }

    Tensor weight;  // (out, in)
    Tensor bias;    // (out), undefined when constructed with has_bias=false

private:
    int64_t in_features_, out_features_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
