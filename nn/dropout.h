#pragma once
// Dropout: during training, zero each element with probability p and scale the survivors by 1/(1-p).
//                                                                              (torch.nn.Dropout)
//   x (any shape) -> x.shape
//
//   training:   out = x * mask / (1 - p),   mask[i] = 1 with probability 1 - p, else 0, drawn from rng
//   eval, p=0:  out = x                     (the same tensor: nothing is drawn, nothing recorded)
//
// Why scale by 1/(1-p)? Each element survives with probability 1-p, so E[out] = (1-p) x / (1-p) = x:
// the next layer sees inputs of the same size in training and in evaluation, where nothing is dropped.
// ("Inverted" dropout: the scaling happens at training time, so evaluation is a plain identity.)
//
// The gradient needs no code of its own: out = x * m with m = mask / (1-p) a constant, so
// dx = dout * m, which the `mul` op already does. Dropped elements get zero gradient.
//
// Randomness comes only from the Rng passed to forward: the same seed gives the same mask, which is how
// the gradient check holds the mask fixed while it perturbs x.
//
//   Dropout drop(0.1);
//   Tensor y = drop.forward(x, rng);      // x (B, T, C) -> (B, T, C)
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Dropout : public Module {
public:
    explicit Dropout(double p = 0.0);  // drop probability, e.g. 0.1; 0 <= p < 1

    Tensor forward(const Tensor& x, Rng& rng) const;
    double p() const { return p_; }

private:
    double p_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
