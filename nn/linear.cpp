#include "nn/linear.h"

#include "core/ops.h"
#include "nn/init.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

Linear::Linear(int64_t in_features, int64_t out_features, Rng& rng, bool has_bias)
    : in_features_(in_features), out_features_(out_features) {
    check(in_features > 0 && out_features > 0, "Linear: in_features ", in_features, " and out_features ",
          out_features, " must be positive");
    weight = register_parameter("weight", trunc_normal({out_features, in_features}, 0.02, rng));
    if (has_bias) bias = register_parameter("bias", Tensor::zeros({out_features}));
}

// x (.., in) -> (.., out)
Tensor Linear::forward(const Tensor& x) const {
    check(x.defined() && x.dim() >= 1 && x.size(-1) == in_features_, "Linear: input ",
          x.defined() ? x.shape() : Shape{}, " has ", x.defined() && x.dim() >= 1 ? x.size(-1) : 0,
          " features in its last dimension, expected ", in_features_, " (weight ", weight.shape(), ")");
    // (.., out); bias undefined means none. reference: matmul(x, transpose(weight)) + bias
    return kernels() == Kernels::reference ? linear_reference(x, weight, bias) : linear(x, weight, bias);
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
