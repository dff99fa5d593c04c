#include "optim/sgd.h"

#include "core/parallel.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

SGD::SGD(NamedTensors params, Scalar lr, Scalar momentum, Scalar dampening, Scalar weight_decay, bool nesterov,
         const DecayRule& decay_rule)
    : Optimizer("SGD", std::move(params), lr, decay_rule),
      momentum_(momentum),
      dampening_(dampening),
      weight_decay_(weight_decay),
      nesterov_(nesterov) {
    check_non_negative(name_, "momentum", momentum);
    check_non_negative(name_, "dampening", dampening);
    check_non_negative(name_, "weight_decay", weight_decay);
    check(!nesterov || (momentum > 0 && dampening == 0), name_,
          ": nesterov momentum requires momentum > 0 and dampening = 0, got momentum ", momentum, " and dampening ",
          dampening);
    if (momentum != 0) register_state("momentum_buffer", momentum_buffer_);
}

void SGD::step() {
    NoGradGuard no_grad;
    begin_step();
    const Scalar lr = this->lr();
    const Scalar mu = momentum_;
    const Scalar tau = dampening_;
    for (size_t i = 0; i < params_.size(); ++i) {
        Tensor& p = params_[i].second;
        const Tensor grad = p.grad();
        if (!grad.defined()) continue;  // not reached by backward: skipped, as in PyTorch
        const int64_t t = count_param_step(i);
        const Scalar lambda = decays_[i] ? weight_decay_ : Scalar(0);
        const bool first = t == 1;
        Scalar* pv = p.data();
        const Scalar* g = grad.data();
        Scalar* b = mu != 0 ? momentum_buffer_[i].data() : nullptr;
        const int64_t n = p.numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration j owns pv[j] and b[j]
        for (int64_t j = 0; j < n; ++j) {
            Scalar d = lambda != 0 ? g[j] + lambda * pv[j] : g[j];  // g + lambda p
            if (mu != 0) {
                b[j] = first ? d : mu * b[j] + (1 - tau) * d;       // the velocity
                d = nesterov_ ? d + mu * b[j] : b[j];
            }
            pv[j] -= lr * d;
        }
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
