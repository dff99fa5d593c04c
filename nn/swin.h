#pragma once
// The Swin Transformer (Liu et al. 2021, "Hierarchical Vision Transformer using Shifted Windows"), with
// timm's parameter names (timm/models/swin_transformer.py, the layout with the patch merging at the end
// of a stage: "layers.0.downsample.reduction.weight"), so weights map one to one.
//
// Legend: B batch, S image side, P patch side, H W a stage's token grid, C a stage's channels, M window
// side, N = M*M tokens per window, nW windows per image, nH heads, K classes.
//
//   images (B, 3, S, S)
//     -> patch_embed: PxP patches (or a conv stem) -> C0, then LayerNorm
//                                                             (B, H*W, C0),   H = W = S / P
//     -> stage 0: depths[0] blocks (window, shifted window, window, ...), then patch merging:
//                                                             (B, H/2 * W/2, 2 C0)
//     -> stage 1 ... the last stage has no patch merging
//     -> norm, mean over tokens                               (B, C_last)
//     -> head                                                 (B, K)
//
// The window geometry (partition, cyclic shift, mask, relative position index, merging) is in
// nn/window.h; docs/models.md and docs/swin_windows.md explain it.
#include <vector>

#include "nn/attention.h"
#include "nn/classifier.h"
#include "nn/embedding.h"
#include "nn/layer_norm.h"
#include "nn/linear.h"
#include "nn/mlp.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// One stage as a config lays it out: what SwinTransformer builds, what parameter_count counts, what
// `patchgrad explain hierarchy` draws. For Swin-T (SwinConfig::swin_t()), stage 0 is
//   {grid 56, channels 96, depth 2, heads 3, window 7, shift 3, downsample true}: 64 windows per image.
struct SwinStageLayout {
    int64_t grid;        // H = W: the stage's tokens per side
    int64_t channels;    // C
    int64_t depth;       // blocks
    int64_t heads;       // nH
    int64_t window;      // M': the window its blocks use, the grid itself when window_size is larger
    int64_t shift;       // the shift of its odd blocks: window_size / 2, or 0 when one window covers the grid
    bool downsample;     // patch merging at the end: every stage but the last
    int64_t windows() const { return (grid / window) * (grid / window); }  // nW per image
};

// The reference tiny Swin for CIFAR-10 is the default; swin_t() is the paper's Swin-T.
struct SwinConfig {
    int64_t image_size = 32;                  // S
    int64_t in_channels = 3;
    int64_t patch_size = 2;                   // P: a 16 x 16 token grid from a 32 x 32 image
    // How images become tokens (nn/embedding.h, Stem): P x P patches, or log2(P) 3 x 3 stride-2
    // convolutions (for P = 2, one), either followed by the patch embedding's LayerNorm. Stem::conv needs P
    // a power of two and embed_dim divisible by P/2.
    Stem stem = Stem::patch;
    int64_t embed_dim = 64;                   // C0; stage i has C0 * 2^i channels
    std::vector<int64_t> depths{2, 2, 2};     // blocks per stage
    std::vector<int64_t> heads{2, 4, 8};      // heads per stage
    int64_t window_size = 4;                  // M
    double mlp_ratio = 2.0;                   // MLP hidden width = mlp_ratio * C
    int64_t num_classes = 10;
    double dropout = 0.0;
    double drop_path = 0.0;                   // stochastic depth of the last block, e.g. 0.1; earlier blocks less
    double layer_norm_eps = 1e-5;             // timm's and torchvision's Swin use PyTorch's default
    Kernels kernels = Kernels::fast;          // reference: every layer runs its textbook twin (nn/module.h)

    // Throws std::invalid_argument naming the field and the value when the numbers cannot make a Swin:
    // every stage's grid must be divisible by its window (or fit inside one) and even before merging.
    void validate() const;
    int64_t parameter_count() const;  // from the formula (docs/models.md), not from a built model
    // The flops of the matrix products of one image's forward pass, a multiply-add counted as 2, from the
    // formula in swin.cpp; LayerNorm, GELU, softmax, the additions and the window gathers are left out.
    // The reference config: 113,120,256. A training step is counted as 3x this, as for the ViT (vit.h).
    int64_t forward_flops() const;
    int64_t buffer_count() const;     // the numbers its buffers hold, likewise: M'^2 x M'^2 per block
    std::vector<SwinStageLayout> stages() const;  // one entry per stage, first stage first; validates
    // Each block's drop-path rate, counting the blocks of all stages in order: 0 rising linearly to
    // drop_path at the model's last block (stochastic_depth_rates in core/ops.h). depths {2, 2},
    // drop_path 0.3 -> {0, 0.1 | 0.2, 0.3}.
    std::vector<double> drop_path_rates() const;

    // Swin-T (Liu et al. 2021, table 1; torchvision's swin_t, timm's swin_tiny_patch4_window7_224): 224x224
    // images, 4x4 patches, C0 96, depths 2/2/6/2, heads 3/6/12/24, window 7, MLP ratio 4, 1000 classes.
    // Grids 56, 28, 14, 7 with 96, 192, 384, 768 channels; 28,288,354 parameters.
    static SwinConfig swin_t();
};

// Window attention: multi-head self-attention inside each M x M window, plus a learned bias per head for
// each relative offset (dy, dx) between two tokens of a window.
//   windows (B*nW, N, C), mask (nW, N, N) or undefined -> (B*nW, N, C)
class WindowAttention : public MultiHeadSelfAttention {
public:
    WindowAttention(int64_t dim, int64_t heads, int64_t window_size, Rng& rng, double dropout);
    Tensor forward(const Tensor& windows, Rng& rng, const Tensor& mask, Tensor* weights = nullptr) const;

    Tensor relative_position_bias_table;  // ((2M-1)^2, nH)  parameter
    Tensor relative_position_index;       // (N, N)          buffer: which table row each token pair reads
private:
    int64_t window_size_;
};

// One Swin block on an H x W grid:  x = x + W-MSA(LN1(x)) (or SW-MSA: shifted);  x = x + MLP(LN2(x)).
//   x (B, H*W, C) -> (B, H*W, C)
// In training, each branch passes through drop_path(., drop_path_rate) (core/ops.h), on both paths alike.
// When the window covers the whole grid there is nothing to shift: the window shrinks to the grid and
// the shift is 0 (timm's rule).
class SwinBlock : public Module {
public:
    SwinBlock(int64_t dim, int64_t heads, int64_t H, int64_t W, int64_t window_size, int64_t shift,
              double mlp_ratio, double layer_norm_eps, double dropout, Rng& rng, double drop_path_rate = 0.0);
    Tensor forward(const Tensor& x, Rng& rng, Tensor* attention = nullptr) const;
    int64_t window_size() const { return window_size_; }
    int64_t shift() const { return shift_; }
    double drop_path_rate() const { return drop_path_rate_; }

    LayerNorm norm1;
    WindowAttention attn;
    LayerNorm norm2;
    Mlp mlp;

private:
    int64_t H_, W_, window_size_, shift_;
    double drop_path_rate_;
    Tensor mask_;  // (nW, N, N): 0 or -100; undefined without a shift
    std::vector<int64_t> to_windows_;    // (H*W): shift + partition as one token order (window_token_order)
    std::vector<int64_t> from_windows_;  // (H*W): its inverse, reverse + shift back
};

// Patch merging: each 2x2 block of neighbours -> one token of 4C channels -> LayerNorm -> Linear to 2C.
//   x (B, H*W, C) -> (B, H/2 * W/2, 2C)
class PatchMerging : public Module {
public:
    PatchMerging(int64_t dim, int64_t H, int64_t W, double layer_norm_eps, Rng& rng);
    Tensor forward(const Tensor& x) const;

    LayerNorm norm;     // (4C)
    Linear reduction;   // 4C -> 2C, no bias
private:
    int64_t H_, W_;
};

// A stage: its blocks, alternating plain and shifted windows, then (except the last) patch merging.
//   x (B, grid*grid, C) -> (B, grid/2 * grid/2, 2C), or (B, grid*grid, C) without the merging
// drop_path_rates: one per block of this stage, its share of SwinConfig::drop_path_rates().
class SwinStage : public Module {
public:
    SwinStage(const SwinStageLayout& layout, const SwinConfig& config, const std::vector<double>& drop_path_rates,
              Rng& rng);
    Tensor forward(const Tensor& x, Rng& rng, std::vector<Tensor>* attention = nullptr) const;

    ModuleList<SwinBlock> blocks;
    std::unique_ptr<PatchMerging> downsample;  // null in the last stage
};

// The patch embedding of Swin: PxP patches (or a conv stem) projected to C0, then a LayerNorm
// ("patch_embed.norm").
class NormalizedPatchEmbedding : public PatchEmbedding {
public:
    NormalizedPatchEmbedding(int64_t in_channels, int64_t patch, int64_t dim, int64_t image_size, Stem stem,
                             double layer_norm_eps, Rng& rng);
    Tensor forward(const Tensor& images) const;  // (B, C, S, S) -> (B, N, D)
    LayerNorm norm;
};

class SwinTransformer : public ImageClassifier {
public:
    SwinTransformer(const SwinConfig& config, Rng& rng);
    Tensor forward(const Tensor& images, Rng& rng) const override;
    // The same, also returning every block's window attention (B*nW, nH, N, N), first block first.
    Tensor forward(const Tensor& images, Rng& rng, std::vector<Tensor>* attention) const;
    const SwinConfig& config() const { return config_; }

    NormalizedPatchEmbedding patch_embed;
    Dropout pos_drop;
    ModuleList<SwinStage> layers;
    LayerNorm norm;
    Linear head;

private:
    SwinConfig config_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
