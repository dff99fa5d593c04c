#include "optim/adam.h"

#include <cmath>

#include "core/parallel.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

Adam::Adam(NamedTensors params, Scalar lr, Scalar beta1, Scalar beta2, Scalar eps, Scalar weight_decay,
           const DecayRule& decay_rule)
    : Adam("Adam", std::move(params), lr, beta1, beta2, eps, weight_decay, false, decay_rule) {}

Adam::Adam(const char* name, NamedTensors params, Scalar lr, Scalar beta1, Scalar beta2, Scalar eps,
           Scalar weight_decay, bool decoupled, const DecayRule& decay_rule)
    : Optimizer(name, std::move(params), lr, decay_rule),
      beta1_(beta1),
      beta2_(beta2),
      eps_(eps),
      weight_decay_(weight_decay),
      decoupled_(decoupled) {
    check_unit_interval(name_, "beta1", beta1);
    check_unit_interval(name_, "beta2", beta2);
    check_non_negative(name_, "eps", eps);
    check_non_negative(name_, "weight_decay", weight_decay);
    register_state("exp_avg", exp_avg_);
    register_state("exp_avg_sq", exp_avg_sq_);
}

AdamW::AdamW(NamedTensors params, Scalar lr, Scalar beta1, Scalar beta2, Scalar eps, Scalar weight_decay,
             const DecayRule& decay_rule)
    : Adam("AdamW", std::move(params), lr, beta1, beta2, eps, weight_decay, true, decay_rule) {}

// Per element, with the bias corrections folded into two numbers per parameter (as PyTorch does):
//     p <- p - gamma * m_hat / (sqrt(v_hat) + eps)
//        = p - (gamma / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//              `----- step_size -----'            `-- bias2_sqrt --'
void Adam::step() {
    NoGradGuard no_grad;
    begin_step();
    const Scalar lr = this->lr();
    const Scalar b1 = beta1_, b2 = beta2_, eps = eps_;
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = params_[i].second;
        const Tensor grad = p.grad();
        if (!grad.defined()) continue;  // not reached by backward: skipped, as in PyTorch
        const int64_t t = count_param_step(i);
        const Scalar lambda = decays_[i] ? weight_decay_ : Scalar(0);
        // The bias corrections in double: b2^t for b2 = 0.999 must not lose digits in float.
        const double bias1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(t));
        const double bias2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(t));
        const Scalar step_size = static_cast<Scalar>(lr / bias1);
        const Scalar bias2_sqrt = static_cast<Scalar>(std::sqrt(bias2));
        const Scalar shrink = 1 - lr * lambda;  // AdamW's decoupled decay: p <- p * (1 - gamma lambda)
        const bool decoupled = decoupled_;

        Scalar* pv = p.data();
        const Scalar* g = grad.data();
        Scalar* m = exp_avg_[i].data();
        Scalar* v = exp_avg_sq_[i].data();
        const int64_t n = p.numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration j owns pv[j], m[j] and v[j]
        for (int64_t j = 0; j < n; ++j) {
            Scalar gj = g[j];
            if (lambda != 0) {
                if (decoupled) pv[j] *= shrink;       // AdamW: decay the weight itself
                else gj += lambda * pv[j];            // Adam: decay enters the gradient (and m, v)
            }
            m[j] = b1 * m[j] + (1 - b1) * gj;
            v[j] = b2 * v[j] + (1 - b2) * gj * gj;
            const Scalar denom = std::sqrt(v[j]) / bias2_sqrt + eps;
            pv[j] -= step_size * m[j] / denom;
        }
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
