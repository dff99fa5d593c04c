// A reference solution of examples/exercises/adamw_step.cpp, kept apart from the skeleton.
// docs/optimizers.md: AdamW, and "Which parameters decay".
#include <cmath>

#include "tests/exercises/solutions/solutions.h"

namespace solution {

static bool ends_with(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

bool adamw_decays(const std::string& name, const Tensor& param) {
    if (param.dim() <= 1) return false;                              // biases, LayerNorm weights
    if (ends_with(name, "cls_token")) return false;
    if (name.find("pos_embed") != std::string::npos) return false;  // pos_embed, absolute_pos_embed
    return !ends_with(name, "relative_position_bias_table");
}

void adamw_step(Tensor& param, const Tensor& grad, Tensor& exp_avg, Tensor& exp_avg_sq, int64_t step,
                const AdamWSettings& s, bool decay) {
    const double bias1 = 1 - std::pow(s.beta1, static_cast<double>(step));  // 1 - b1^t
    const double bias2 = 1 - std::pow(s.beta2, static_cast<double>(step));  // 1 - b2^t
    double* p = param.data();
    double* m = exp_avg.data();
    double* v = exp_avg_sq.data();
    const double* g = grad.data();
    for (int64_t j = 0; j < param.numel(); ++j) {
        if (decay) p[j] -= s.lr * s.weight_decay * p[j];  // decoupled: before the Adam step
        m[j] = s.beta1 * m[j] + (1 - s.beta1) * g[j];
        v[j] = s.beta2 * v[j] + (1 - s.beta2) * g[j] * g[j];
        const double m_hat = m[j] / bias1, v_hat = v[j] / bias2;
        p[j] -= s.lr * m_hat / (std::sqrt(v_hat) + s.eps);
    }
}

}  // namespace solution
