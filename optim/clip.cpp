#include "optim/clip.h"

#include <cmath>

#include "core/parallel.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

Scalar clip_grad_norm(const std::vector<Tensor>& params, Scalar max_norm) {
    check(max_norm > 0 && std::isfinite(max_norm), "clip_grad_norm: max_norm must be a finite number > 0, got ",
          max_norm);
    // The global norm: one serial sum in double, in a fixed order.
    double sum_squares = 0;
    for (const Tensor& p : params) {
        check(p.defined(), "clip_grad_norm: a parameter is an undefined tensor");
        const Tensor grad = p.grad();
        if (!grad.defined()) continue;
        const Scalar* g = grad.data();
        for (int64_t j = 0; j < grad.numel(); ++j) sum_squares += static_cast<double>(g[j]) * g[j];
    }
    const double norm = std::sqrt(sum_squares);
    if (!std::isfinite(norm)) return static_cast<Scalar>(norm);  // the caller decides
    const double coef = static_cast<double>(max_norm) / (norm + 1e-6);
    if (coef < 1) {
        const Scalar scale = static_cast<Scalar>(coef);
        for (const Tensor& p : params) {
            const Tensor grad = p.grad();
            if (!grad.defined()) continue;
            Scalar* g = p.grad_data();
            const int64_t n = grad.numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration j owns g[j]
            for (int64_t j = 0; j < n; ++j) g[j] *= scale;
        }
    }
    return static_cast<Scalar>(norm);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
