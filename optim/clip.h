#pragma once
// Gradient clipping by the global norm (torch.nn.utils.clip_grad_norm_, the same rule).
//
//     norm = sqrt(sum over every parameter p, every element j of grad(p)[j]^2)   all grads as one vector
//     coef = max_norm / (norm + 1e-6)
//     if coef < 1:  grad(p) <- grad(p) * coef   for every p                       (i.e. norm > max_norm - 1e-6)
//
// Scaling every gradient by one number keeps the update's direction and bounds its length near max_norm.
// The 1e-6 keeps the division finite when norm is 0.
#include <vector>

#include "core/tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Clips the grads of `params` in place and returns their norm before clipping. Parameters without a grad
// are skipped. The sum of squares is accumulated in double, one parameter after another in the order given,
// so the result never depends on the thread count. A norm that is not finite (inf or nan: an overflow
// somewhere) is returned as it is and the grads are left alone: the caller decides (skip the step, stop).
// max_norm > 0.
Scalar clip_grad_norm(const std::vector<Tensor>& params, Scalar max_norm);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
