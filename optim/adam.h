#pragma once
// Adam and AdamW (torch.optim.Adam, torch.optim.AdamW: the same update rules). docs/optimizers.md derives
// the bias correction and tells why AdamW decouples weight decay.
//
// For each parameter p with gradient g, at its t-th update (t = 1, 2, ...), lr = gamma, betas = (b1, b2),
// weight_decay = lambda (0 for parameters the decay rule exempts); m and v start at zero:
//
//     Adam:   g <- g + lambda * p                     L2 penalty, added to the gradient
//     AdamW:  p <- p - gamma * lambda * p             decoupled: shrink p, outside the adaptive scaling
//     m <- b1 * m + (1 - b1) * g                      first moment  (exp_avg):    running mean of g
//     v <- b2 * v + (1 - b2) * g^2                    second moment (exp_avg_sq): running mean of g^2
//     m_hat = m / (1 - b1^t)                          bias correction: m, v started at 0
//     v_hat = v / (1 - b2^t)
//     p <- p - gamma * m_hat / (sqrt(v_hat) + eps)
//
// State: "exp_avg.<param>" (m) and "exp_avg_sq.<param>" (v), plus the step counts (optim/optimizer.h).
#include "optim/optimizer.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Adam : public Optimizer {
public:
    // lr >= 0, beta1 and beta2 in [0, 1), eps >= 0, weight_decay >= 0 (an L2 penalty).
    Adam(NamedTensors params, Scalar lr, Scalar beta1 = 0.9, Scalar beta2 = 0.999, Scalar eps = 1e-8,
         Scalar weight_decay = 0, const DecayRule& decay_rule = decays_by_default);

    void step() override;

    Scalar beta1() const { return beta1_; }
    Scalar beta2() const { return beta2_; }
    Scalar eps() const { return eps_; }
    Scalar weight_decay() const { return weight_decay_; }
    bool decoupled_weight_decay() const { return decoupled_; }

protected:
    // AdamW's constructor: the same optimizer with weight decay decoupled from the gradient.
    Adam(const char* name, NamedTensors params, Scalar lr, Scalar beta1, Scalar beta2, Scalar eps,
         Scalar weight_decay, bool decoupled, const DecayRule& decay_rule);

private:
    Scalar beta1_, beta2_, eps_, weight_decay_;
    bool decoupled_;
    std::vector<Tensor> exp_avg_;     // m, one per parameter, its shape
    std::vector<Tensor> exp_avg_sq_;  // v, one per parameter, its shape
};

// AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay Regularization").
// Note the default weight_decay, 0.01, as in PyTorch.
class AdamW : public Adam {
public:
    AdamW(NamedTensors params, Scalar lr, Scalar beta1 = 0.9, Scalar beta2 = 0.999, Scalar eps = 1e-8,
          Scalar weight_decay = 0.01, const DecayRule& decay_rule = decays_by_default);
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
