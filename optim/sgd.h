#pragma once
// SGD: stochastic gradient descent, optionally with momentum (heavy ball) or Nesterov momentum
// (torch.optim.SGD, the same update rule). docs/optimizers.md derives it.
//
// For each parameter p with gradient g, at its t-th update (t = 1, 2, ...), lr = gamma, momentum = mu,
// dampening = tau, weight_decay = lambda (0 for parameters the decay rule exempts):
//
//     g <- g + lambda * p                          weight decay as an L2 penalty, added to the gradient
//     if mu != 0:
//         b <- g                     if t == 1     the momentum buffer starts at the first gradient
//         b <- mu * b + (1 - tau) * g  otherwise
//         g <- g + mu * b            if nesterov   look ahead along the new velocity
//         g <- b                     otherwise
//     p <- p - gamma * g
#include "optim/optimizer.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class SGD : public Optimizer {
public:
    // lr >= 0, momentum >= 0, dampening >= 0, weight_decay >= 0; nesterov needs momentum > 0 and
    // dampening == 0. State: "momentum_buffer.<param>" when momentum != 0.
    SGD(NamedTensors params, Scalar lr, Scalar momentum = 0, Scalar dampening = 0, Scalar weight_decay = 0,
        bool nesterov = false, const DecayRule& decay_rule = decays_by_default);

    void step() override;

    Scalar momentum() const { return momentum_; }
    Scalar dampening() const { return dampening_; }
    Scalar weight_decay() const { return weight_decay_; }
    bool nesterov() const { return nesterov_; }

private:
    Scalar momentum_, dampening_, weight_decay_;
    bool nesterov_;
    std::vector<Tensor> momentum_buffer_;  // one per parameter, its shape; empty when momentum == 0
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
