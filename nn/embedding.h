#pragma once
// Embeddings of a Vision Transformer: images to patch tokens, the position encodings added to them, and
// the CLS token put in front.                              (timm's PatchEmbed, pos_embed, cls_token)
//
// Dimension legend:
//   B batch   C image channels (3 for RGB)   Hi, Wi image height and width   P patch size (pixels)
//   h = Hi / P, w = Wi / P the patch grid    N = h * w patches   D embedding dim (tokens are (B, N, D))
//
//   images (B, C, Hi, Wi) --patchify--> (B, N, C*P*P) --linear--> (B, N, D)           PatchEmbedding
//                         --prepend_cls--> (B, 1+N, D) --+ position encoding--> (B, 1+N, D)
//
// Patch n = i * w + j is the P x P square whose top-left pixel is (i*P, j*P): patches are numbered row by
// row, as timm's `flatten(2).transpose(1, 2)` numbers them. docs/vit_layers.md explains each piece.
#include <cstdint>
#include <vector>

#include "nn/layer_norm.h"
#include "nn/module.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- patches -------------------------------------------------------------------------------------------

// patchify: cut images into non-overlapping P x P patches, each flattened in (C, P, P) order.
//   images (B, C, Hi, Wi) -> (B, N, C*P*P),   N = (Hi/P) * (Wi/P)
//   out[b, i*w + j, (c*P + u)*P + v] = images[b, c, i*P + u, j*P + v]
// A reshape alone cannot do this (a patch's rows are not contiguous in memory); it takes a reshape, a
// permute, and a reshape. Hi and Wi must be divisible by P.
Tensor patchify(const Tensor& images, int64_t patch);

// The weights of a convolution, shaped as PyTorch's nn.Conv2d(C, D, k) stores them: (D, C, k, k). For the
// patch embedding k = P (stride P), so timm's `patch_embed.proj.weight` loads one to one; PatchEmbedding
// registers it as "proj".
class PatchProjection : public Module {
public:
    PatchProjection(int64_t in_channels, int64_t kernel, int64_t dim, Rng& rng);
    Tensor weight;  // (D, C, k, k)  truncated normal, std 0.02
    Tensor bias;    // (D)           zeros
};

// How images become tokens (the ViT's --stem):
//   patch  one P x P convolution of stride P: each patch projected on its own (the original ViT)
//   conv   log2(P) convolutions of 3 x 3, stride 2, padding 1, each halving the side, the ones before the
//          last followed by LayerNorm (over channels) and GELU: a convolutional stem (Xiao et al. 2021,
//          "Early Convolutions Help Transformers See Better"). The same (B, N, D) tokens, but each sees a
//          window of 2P - 1 pixels (7 x 7 for P = 4) that overlaps its neighbours', through a small
//          network instead of one linear map. Channels double up to D: for P = 4, C -> D/2 -> D.
enum class Stem { patch, conv };

// PatchEmbedding: patchify, then one shared linear map from each patch's C*P*P pixels to D numbers.
// That is exactly a convolution with kernel P and stride P (tests/test_embedding.cpp proves it).
//   images (B, C, S, S) -> tokens (B, N, D),  N = (S/P)^2
//
//   PatchEmbedding embed(/*in_channels=*/3, /*patch=*/4, /*dim=*/192, /*image_size=*/32, rng);  // N = 64
//
// Parameters (timm names): proj.weight (D, C, P, P), proj.bias (D); the ViT registers this module as
// "patch_embed". Initialised like a Linear (truncated normal std 0.02, bias 0), because after patchify it
// IS a Linear; timm leaves the Conv2d at PyTorch's default (uniform +-1/sqrt(C*P*P), which for C=3, P=4 is
// +-0.144) and MAE uses Xavier on the flattened weight. Any of these trains; we pick the one rule for
// every linear map in the model.
//
// With Stem::conv (P a power of two, D divisible by P/2) the same module is the convolutional stem:
//   images (B, C, S, S) -> unfold(3, 2, 1) -> linear -> LayerNorm -> GELU    (B, (S/2)^2, D/(P/2))  conv 0
//     -> as (B, S/2, S/2, D/(P/2)) -> ... -> unfold_channels_last(3, 2, 1) -> linear  (B, N, D)  the last
// Parameters: convs.i.weight (C_i, C_{i-1}, 3, 3), convs.i.bias, norms.i.weight, norms.i.bias for every
// conv before the last, and proj.weight (D, C_{n-1}, 3, 3), proj.bias for the last one.
class PatchEmbedding : public Module {
public:
    PatchEmbedding(int64_t in_channels, int64_t patch, int64_t dim, int64_t image_size, Rng& rng,
                   Stem stem = Stem::patch, double layer_norm_eps = 1e-6);

    Tensor forward(const Tensor& images) const;  // (B, C, S, S) -> (B, N, D)

    int64_t grid_size() const { return image_size_ / patch_; }        // h = w = S / P
    int64_t num_patches() const { return grid_size() * grid_size(); }  // N
    int64_t patch_size() const { return patch_; }
    Stem stem() const { return stem_; }

    PatchProjection proj;                 // the patch's projection; with Stem::conv the stem's last conv
    ModuleList<PatchProjection> convs;    // Stem::conv: the convs before the last (log2(P) - 1 of them)
    ModuleList<LayerNorm> norms;          // Stem::conv: the LayerNorm after each of them

private:
    // 3x3, stride 2, pad 1 -> (B, L, OC), of x (B, C, S, S), or of x (B, S, S, C) when channels_last
    Tensor convolve(const Tensor& x, const PatchProjection& conv, bool channels_last) const;
    int64_t in_channels_, patch_, dim_, image_size_;
    Stem stem_;
};

// The number of 3 x 3 stride-2 convolutions of a conv stem for patch P (P = 2^n), and conv i's output
// channels: D / 2^(n-1-i), so the last one has D. conv_stem_channels(4, 128) = {64, 128}.
int64_t conv_stem_depth(int64_t patch);
// Whether a conv stem can make D channels from patch P: P = 2, 4, 8, ... and D divisible by P/2.
bool conv_stem_fits(int64_t patch, int64_t dim);
std::vector<int64_t> conv_stem_channels(int64_t patch, int64_t dim);

// What a PatchEmbedding of these sizes holds and computes, counted as the ViT and the Swin count theirs:
//   patches     parameters D*C*P*P + D;  flops 2 N (C P P) D for one image of N = (S/P)^2 patches
//   conv stem   conv i (C_{-1} = C, C_{n-1} = D): C_i*C_{i-1}*9 + C_i, plus 2 C_i for the LayerNorm after
//               every conv but the last;  flops 2 L_i (9 C_{i-1}) C_i, L_i = (S / 2^(i+1))^2
int64_t patch_embedding_parameter_count(int64_t in_channels, int64_t patch, int64_t dim, Stem stem);
int64_t patch_embedding_flops(int64_t in_channels, int64_t patch, int64_t dim, int64_t image_size, Stem stem);

// ---- the CLS token -------------------------------------------------------------------------------------

// prepend_cls: one copy of the (learned) CLS token in front of every sequence.
//   tokens (B, N, D), cls (1, 1, D) -> (B, 1+N, D)
// The backward of the expand sums the B copies' gradients into cls. The ViT owns the cls_token parameter.
Tensor prepend_cls(const Tensor& tokens, const Tensor& cls);

// ---- position encodings --------------------------------------------------------------------------------

// Which position encoding a model adds to its tokens.
//   learned_1d  one learned vector per token position, (1, [1+]N, D): the original ViT, timm's default
//   learned_2d  one learned vector per grid row (h, D) and per column (w, D), added: row[r] + col[c]
//   sincos_1d   fixed Vaswani sines/cosines of the token index n = r*w + c
//   sincos_2d   fixed: half the channels a sin-cos code of the row, half of the column (MAE, MoCo v3)
enum class PositionEmbeddingKind { learned_1d, learned_2d, sincos_1d, sincos_2d };

const char* to_string(PositionEmbeddingKind kind);  // "learned_1d", ...

// sincos_1d_table: the Transformer's fixed encoding (Vaswani et al. 2017), interleaved sin/cos.
//   -> (T, D), D even;  PE[t, 2i] = sin(t / 10000^(2i/D)),  PE[t, 2i+1] = cos(t / 10000^(2i/D))
Tensor sincos_1d_table(int64_t T, int64_t D);

// sincos_2d_table: rows and columns each get a 1D table of D/2 channels.
//   -> (h*w, D), D divisible by 4;  row n = r*w + c:  [ sincos_1d(h, D/2)[r] | sincos_1d(w, D/2)[c] ]
// MAE's version differs in two details that change the numbers but not the idea: it writes all the sines
// before all the cosines, and (through np.meshgrid's order) its first half encodes the column.
Tensor sincos_2d_table(int64_t h, int64_t w, int64_t D);

// PositionEmbedding: adds the position encoding of `kind` to a token sequence.
//   x (B, [1+]N, D) -> x.shape,  N = grid_h * grid_w; the leading 1 when cls_token is true
//
//   PositionEmbedding pos(PositionEmbeddingKind::learned_1d, 8, 8, 192, /*cls_token=*/true, rng);
//   Tensor z = pos.forward(prepend_cls(patch_embed.forward(images), cls_token));   // (B, 65, 192)
//
// What is registered (every kind builds table() of shape (1, [1+]N, D) and forward adds it):
//   learned_1d  parameter pos_embed (1, [1+]N, D), truncated normal std 0.02. With a CLS token the table
//               covers its position too (row 0), as in timm, so the CLS token gets a learned position.
//   learned_2d  parameters row_embed (h, D) and col_embed (w, D), truncated normal std 0.02 each.
//   sincos_*    buffer pos_embed (1, [1+]N, D): a fixed table, saved with the model but never trained.
// For every kind but learned_1d the CLS token has no place on the grid, so its row is ZERO: the CLS token
// enters the first block as it is (MAE does the same). Never add a (1, D, h, w)-shaped grid encoding to
// a (B, 1+N, D) sequence directly: the shapes do not even broadcast, and reshaping one to fit the other
// silently mixes channels with positions and misses the CLS offset (docs/vit_layers.md, section 4, "The pitfall").
class PositionEmbedding : public Module {
public:
    PositionEmbedding(PositionEmbeddingKind kind, int64_t grid_h, int64_t grid_w, int64_t dim, bool cls_token,
                      Rng& rng);

    Tensor forward(const Tensor& x) const;  // (B, [1+]N, D) -> same shape
    Tensor table() const;                   // (1, [1+]N, D): what forward adds (differentiable)

    PositionEmbeddingKind kind() const { return kind_; }
    int64_t num_tokens() const { return (cls_token_ ? 1 : 0) + grid_h_ * grid_w_; }

    Tensor pos_embed;   // learned_1d: the parameter; sincos_*: the buffer; learned_2d: undefined
    Tensor row_embed;   // learned_2d only: (h, D)
    Tensor col_embed;   // learned_2d only: (w, D)

private:
    PositionEmbeddingKind kind_;
    int64_t grid_h_, grid_w_, dim_;
    bool cls_token_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
