#pragma once
// Weight initialisation, as timm's Vision Transformer does it.
//
//   trunc_normal(shape, std, rng)   normal(0, std^2), every draw outside [-2 std, +2 std] redrawn
//
// Used for: Linear weights (std 0.02), the patch embedding weight, learned position embeddings and the
// CLS token. Biases start at 0, LayerNorm at weight 1 and bias 0 (nn/linear.h, nn/layer_norm.h).
//
// Why truncate? A plain normal now and then draws a weight of 4 or 5 std; cutting the tails keeps
// every initial weight small, so no single input dominates a neuron at step 0.
//
// A difference from timm worth knowing: timm's trunc_normal_(t, std=.02) cuts at the ABSOLUTE values
// a=-2, b=2, which for std 0.02 is 100 std away, so in practice it is an untruncated normal. We cut at
// +-2 std (the usual meaning of "truncated normal", as in JAX and in timm's trunc_normal_tf_). The two
// differ only in the ~4.6% of draws beyond 2 std; a trained model does not care which was used.
#include "core/tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// A new leaf tensor of `shape` (requires_grad false; register_parameter turns it on), each element drawn
// from normal(0, std^2) and redrawn until it lies in [-2 std, 2 std]. std must be positive.
Tensor trunc_normal(const Shape& shape, double std, Rng& rng);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
