#include "nn/layer_norm.h"

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

LayerNorm::LayerNorm(int64_t dim, double eps) : dim_(dim), eps_(eps) {
    check(dim > 0, "LayerNorm: dim ", dim, " must be positive");
    check(eps > 0, "LayerNorm: eps ", eps, " must be positive (it keeps sqrt(var + eps) away from 0)");
    weight = register_parameter("weight", Tensor::ones({dim}));
    bias = register_parameter("bias", Tensor::zeros({dim}));
}

// x (.., C) -> (.., C)
Tensor LayerNorm::forward(const Tensor& x) const {
    check(x.defined() && x.dim() >= 1 && x.size(-1) == dim_, "LayerNorm: input ", x.defined() ? x.shape() : Shape{},
          ", expected its last dimension to be ", dim_, " (normalized shape (", dim_, ",))");
    const Scalar eps = static_cast<Scalar>(eps_);
    // reference: (x - mean) / sqrt(var + eps) * weight + bias, op by op
    return kernels() == Kernels::reference ? layer_norm_reference(x, weight, bias, eps)
                                           : layer_norm(x, weight, bias, eps);  // (.., C)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
