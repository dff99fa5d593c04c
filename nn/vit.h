#pragma once
// The Vision Transformer (Dosovitskiy et al. 2021, "An Image is Worth 16x16 Words"), pre-norm, with
// timm's parameter names (timm/models/vision_transformer.py), so weights map one to one.
//
// Legend: B batch, C image channels, S image side, P patch side, N = (S/P)^2 patches, T tokens (N, plus 1
// with a CLS token), D model width, H heads, F the MLP's hidden width, K classes.
//
//   images (B, C, S, S)
//     -> [shifted_copies]                 (B, 5C, S, S) with shifted patches only (core/ops.h)
//     -> patch_embed                      (B, N, D)     a stride-P PxP convolution, or a stem of 3x3
//                                                       stride-2 convolutions (nn/embedding.h)
//     -> [cls_token;  ...]                (B, T, D)     with CLS pooling only
//     -> + position embedding             (B, T, D)
//     -> blocks[0 .. depth-1]             (B, T, D)     x + MSA(LN(x)), then x + MLP(LN(x)); in training
//                                                       each branch through drop_path (stochastic depth)
//     -> norm                             (B, T, D)
//     -> pool: the CLS token, or the mean over tokens   (B, D)
//     -> head                             (B, K)        logits
//
// docs/models.md walks through it; tests/test_models.cpp checks it against PyTorch.
#include <string>
#include <vector>

#include "nn/attention.h"
#include "nn/classifier.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/mlp.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

enum class Pooling { cls, mean };
const char* to_string(Pooling pooling);  // "cls", "mean"

// The reference tiny ViT for CIFAR-10 is the default: 811,146 parameters.
struct ViTConfig {
    int64_t image_size = 32;    // S
    int64_t in_channels = 3;    // C: 3 for CIFAR-10, 1 for MNIST
    int64_t patch_size = 4;     // P: 8 x 8 = 64 patches of a 32 x 32 image
    int64_t dim = 128;          // D
    int64_t depth = 6;          // encoder blocks
    int64_t heads = 4;          // H; D / H = 32 per head
    int64_t mlp_dim = 256;      // F
    int64_t num_classes = 10;   // K
    double dropout = 0.0;       // after the position embedding, in the MLP and after attention
    double drop_path = 0.0;     // stochastic depth of the last block, e.g. 0.1; earlier blocks less (below)
    double layer_norm_eps = 1e-6;
    PositionEmbeddingKind position = PositionEmbeddingKind::learned_1d;
    Pooling pooling = Pooling::cls;  // cls: prepend a CLS token and classify from it; mean: no CLS token
    // Shifted patch tokens (Lee et al. 2021): before the patches are cut, the image gets four copies of
    // itself shifted diagonally by P/2 pixels as extra channels (shifted_copies, core/ops.h), so each patch
    // also sees half a patch across each border; the patch embedding takes 5C channels. Needs P >= 2.
    bool shifted_patches = false;
    // How the (shifted) images become tokens: P x P patches, or a stem of log2(P) 3 x 3 stride-2
    // convolutions (nn/embedding.h, Stem). Stem::conv needs P a power of two and D divisible by P/2.
    Stem stem = Stem::patch;
    Kernels kernels = Kernels::fast;  // reference: every layer runs its textbook twin (nn/module.h)

    // Throws std::invalid_argument naming the field and the value when the numbers cannot make a ViT.
    void validate() const;
    // The number of parameters, counted from the formula (docs/models.md), not from a built model.
    int64_t parameter_count() const;
    // The channels the patch embedding sees: in_channels, or 5 x in_channels with shifted patches.
    int64_t patch_channels() const { return shifted_patches ? 5 * in_channels : in_channels; }
    // The flops of the matrix products of one image's forward pass, a multiply-add counted as 2, from the
    // formula in vit.cpp; LayerNorm, GELU, softmax and the additions are left out (a few flops per number,
    // not products). The reference config: 116,004,352. A training step is counted as 3x this: the backward
    // of each product is two products of the same size (for Y = X W: dX = dY W^T and dW = X^T dY).
    int64_t forward_flops() const;
    // Each block's drop-path rate, first block first: 0 rising linearly to drop_path at the last block
    // (stochastic_depth_rates in core/ops.h). depth 4, drop_path 0.3 -> {0, 0.1, 0.2, 0.3}.
    std::vector<double> drop_path_rates() const;

    // The numbers its buffers hold (a fixed sin-cos table, T*D; none for the learned kinds), likewise.
    int64_t buffer_count() const;
};

// One pre-norm encoder block:  x = x + MSA(LN1(x));  x = x + MLP(LN2(x)).     (B, T, D) -> (B, T, D)
// In training, each branch passes through drop_path(., drop_path_rate): with that probability a sample
// skips the branch (core/ops.h).
class TransformerEncoderBlock : public Module {
public:
    TransformerEncoderBlock(int64_t dim, int64_t heads, int64_t mlp_dim, double layer_norm_eps, double dropout,
                            Rng& rng, double drop_path_rate = 0.0);
    // `attention`, if not null, receives this block's attention probabilities (B, H, T, T).
    Tensor forward(const Tensor& x, Rng& rng, Tensor* attention = nullptr) const;
    double drop_path_rate() const { return drop_path_rate_; }

    LayerNorm norm1;
    MultiHeadSelfAttention attn;
    LayerNorm norm2;
    Mlp mlp;

private:
    double drop_path_rate_;
};

class VisionTransformer : public ImageClassifier {
public:
    VisionTransformer(const ViTConfig& config, Rng& rng);
    Tensor forward(const Tensor& images, Rng& rng) const override;
    // The same, also returning every block's attention probabilities, first block first.
    Tensor forward(const Tensor& images, Rng& rng, std::vector<Tensor>* attention) const;
    const ViTConfig& config() const { return config_; }

    PatchEmbedding patch_embed;
    Tensor cls_token;                  // (1, 1, D); undefined with mean pooling
    PositionEmbedding position;        // its tensors are registered here, under timm's names
    Dropout pos_drop;
    ModuleList<TransformerEncoderBlock> blocks;
    LayerNorm norm;
    Linear head;

private:
    ViTConfig config_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
