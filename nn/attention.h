#pragma once
// MultiHeadSelfAttention: every token looks at every token, in H heads of D = C / H channels each.
//                                                                         (timm's vision_transformer.Attention)
// Dimension legend: B batch, T tokens, C channels (= dim), H heads, D = C / H head size.
//
//   x (B, T, C) --qkv--> (B, T, 3C) --split--> q, k, v (B, H, T, D)
//     --softmax(q k^T / sqrt(D) + bias) v--> (B, H, T, D) --merge heads--> (B, T, C) --proj--> (B, T, C)
//
//   MultiHeadSelfAttention attn(/*dim=*/192, /*heads=*/3, rng, /*proj_dropout=*/0.0);   // D = 64
//
// Parameters (timm names): qkv.weight (3C, C), qkv.bias (3C), proj.weight (C, C), proj.bias (C).
// Rows [0, C) of qkv.weight make q, [C, 2C) make k, [2C, 3C) make v; inside each, head h owns rows
// [h*D, (h+1)*D). timm's checkpoints use exactly this layout, so they load without rearranging.
// The attention itself (scores, softmax, weighted sum, and their backward) is the fused
// scaled_dot_product_attention op (core/ops/attention.cpp). No dropout on the attention probabilities
// (timm's attn_drop defaults to 0); dropout after proj, registered as proj_drop.
#include <cstdint>

#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class MultiHeadSelfAttention : public Module {
public:
    MultiHeadSelfAttention(int64_t dim, int64_t heads, Rng& rng, double proj_dropout = 0.0);

    // x (B, T, C) -> (B, T, C).
    //   bias: undefined, or broadcastable to (B, H, T, T), added to the scores before the softmax
    //         (Swin's relative position bias and shifted-window mask)
    //   weights: if not null, receives the attention probabilities (B, H, T, T), e.g. for pictures
    Tensor forward(const Tensor& x, Rng& rng, const Tensor& bias = Tensor(), Tensor* weights = nullptr) const;

    int64_t dim() const { return dim_; }
    int64_t num_heads() const { return heads_; }
    int64_t head_dim() const { return dim_ / heads_; }

    Linear qkv;         // C -> 3C
    Linear proj;        // C -> C
    Dropout proj_drop;  // after proj

private:
    int64_t dim_, heads_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
