#pragma once
// LayerNorm: normalise each token's C features to mean 0, variance 1, then scale and shift per feature.
//                                                                                (torch.nn.LayerNorm)
//   x (.., C) -> x.shape;  for each row x[..., :]:
//     mu = mean_c x_c,  var = mean_c (x_c - mu)^2   (biased: divide by C)
//     out_c = (x_c - mu) / sqrt(var + eps) * weight_c + bias_c
//
//   LayerNorm norm(/*dim=*/192);                 // eps 1e-6, as timm's ViT (PyTorch's default is 1e-5)
//
// Parameters: weight (C) = 1, bias (C) = 0 at the start, so a fresh LayerNorm only normalises.
// No Rng: nothing about it is random. The arithmetic and backward are the fused `layer_norm` op
// (core/ops/layer_norm.cpp). Unlike BatchNorm it looks at one token at a time, so it behaves the same
// in training and evaluation and for any batch size.
#include <cstdint>

#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class LayerNorm : public Module {
public:
    explicit LayerNorm(int64_t dim, double eps = 1e-6);

    Tensor forward(const Tensor& x) const;  // (.., C) -> (.., C)

    int64_t dim() const { return dim_; }
    double eps() const { return eps_; }

    Tensor weight;  // (C), ones
    Tensor bias;    // (C), zeros

private:
    int64_t dim_;
    double eps_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
