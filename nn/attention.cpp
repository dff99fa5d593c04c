#include "nn/attention.h"

#include <cmath>

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Checked before any member is built, so a bad dim or heads is reported by this class, not by Linear.
static int64_t checked_dim(int64_t dim, int64_t heads) {
    check(dim > 0 && heads > 0, "MultiHeadSelfAttention: dim ", dim, " and heads ", heads, " must be positive");
    check(dim % heads == 0, "MultiHeadSelfAttention: dim ", dim, " is not divisible by heads ", heads);
    return dim;
}

MultiHeadSelfAttention::MultiHeadSelfAttention(int64_t dim, int64_t heads, Rng& rng, double proj_dropout)
    : qkv(checked_dim(dim, heads), 3 * dim, rng), proj(dim, dim, rng), proj_drop(proj_dropout), dim_(dim),
      heads_(heads) {
    register_module("qkv", qkv);
    register_module("proj", proj);
    register_module("proj_drop", proj_drop);
}

Tensor MultiHeadSelfAttention::forward(const Tensor& x, Rng& rng, const Tensor& bias, Tensor* weights) const {
    check(x.defined() && x.dim() == 3 && x.size(2) == dim_, "MultiHeadSelfAttention: input ",
          x.defined() ? x.shape() : Shape{}, ", expected (B, T, ", dim_, ")");
    const int64_t C = dim_, H = heads_, D = C / H;
    Tensor qkv_all = qkv.forward(x);                                     // (B, T, 3C): 3C = (which, head, d)
    const Scalar scale = static_cast<Scalar>(1.0 / std::sqrt(static_cast<double>(D)));
    // softmax(q k^T / sqrt(D) + bias) v for each of the H heads, the heads' outputs side by side. One
    // fused op: the same as splitting q, k, v into (B, H, T, D) with reshape + permute, calling
    // scaled_dot_product_attention and permuting back (docs/attention.md), without the copies.
    // reference: split heads -> scores -> bias -> softmax -> weighted values -> merge heads, op by op.
    Tensor out = kernels() == Kernels::reference
                     ? multi_head_attention_reference(qkv_all, H, bias, scale, weights)
                     : multi_head_attention(qkv_all, H, bias, scale, weights);  // (B, T, C)
    out = proj.forward(out);                                             // (B, T, C)
    return proj_drop.forward(out, rng);                                  // (B, T, C)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
