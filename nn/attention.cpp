#include "nn/attention.h"

#include <cmath>

#include "core/ops.h"

namespace patchgrad::inline PATCHGRAD_FLAVOUR {

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
    const int64_t B = x.size(0), T = x.size(1), C = dim_, H = heads_, D = C / H;
    Tensor qkv_all = qkv.forward(x);                                     // (B, T, 3C)
    qkv_all = reshape(qkv_all, {B, T, 3, H, D});                         // (B, T, 3, H, D): 3C = (which, head, d)
    qkv_all = permute(qkv_all, {2, 0, 3, 1, 4});                         // (3, B, H, T, D)
    Tensor q = reshape(slice(qkv_all, 0, 0, 1), {B, H, T, D});           // (B, H, T, D)
    Tensor k = reshape(slice(qkv_all, 0, 1, 2), {B, H, T, D});           // (B, H, T, D)
    Tensor v = reshape(slice(qkv_all, 0, 2, 3), {B, H, T, D});           // (B, H, T, D)
    const Scalar scale = static_cast<Scalar>(1.0 / std::sqrt(static_cast<double>(D)));
    Tensor out = scaled_dot_product_attention(q, k, v, bias, scale, weights);  // (B, H, T, D)
    out = permute(out, {0, 2, 1, 3});                                    // (B, T, H, D)
    out = reshape(out, {B, T, C});                                       // (B, T, C): heads side by side
    out = proj.forward(out);                                             // (B, T, C)
    return proj_drop.forward(out, rng);                                  // (B, T, C)
}

}  // namespace patchgrad::inline PATCHGRAD_FLAVOUR
