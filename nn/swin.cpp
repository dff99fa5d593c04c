#include "nn/swin.h"

#include <algorithm>

#include "core/ops.h"
#include "nn/init.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- config ---------------------------------------------------------------------------------------------

// The window a stage really uses: the grid itself when the window would not fit (timm's rule).
static int64_t effective_window(int64_t grid, int64_t window_size) { return std::min(grid, window_size); }

// The shift of a shifted block: none when one window already covers the grid, as in timm (`if
// min(input_resolution) <= window_size: shift_size = 0`) and torchvision (`if window_size >= pad_H:
// shift_size = 0`). Swin-T's last stage is such a grid: 7x7 tokens, window 7.
static int64_t effective_shift(int64_t grid, int64_t window_size, int64_t shift) {
    return grid <= window_size ? 0 : shift;
}

SwinConfig SwinConfig::swin_t() {
    SwinConfig config;
    config.image_size = 224, config.in_channels = 3, config.patch_size = 4, config.embed_dim = 96;
    config.depths = {2, 2, 6, 2}, config.heads = {3, 6, 12, 24}, config.window_size = 7;
    config.mlp_ratio = 4.0, config.num_classes = 1000;
    return config;
}

void SwinConfig::validate() const {
    check(image_size > 0 && in_channels > 0 && patch_size > 0 && embed_dim > 0 && window_size > 0 &&
              num_classes > 0 && mlp_ratio > 0,
          "Swin: every size must be positive (image ", image_size, ", channels ", in_channels, ", patch ", patch_size,
          ", embed_dim ", embed_dim, ", window ", window_size, ", classes ", num_classes, ", mlp_ratio ", mlp_ratio,
          ")");
    check(static_cast<int64_t>(mlp_ratio * static_cast<double>(embed_dim)) >= 1, "Swin: mlp_ratio ", mlp_ratio,
          " x embed_dim ", embed_dim, " gives the first stage's MLP no channels (the width is rounded down)");
    check(!depths.empty() && depths.size() == heads.size(), "Swin: depths and heads need one entry per stage, got ",
          depths.size(), " depths and ", heads.size(), " heads");
    check(image_size % patch_size == 0, "Swin: patch size ", patch_size, " does not divide the image size ",
          image_size);
    check(stem == Stem::patch || conv_stem_fits(patch_size, embed_dim),
          "Swin: a conv stem halves the image log2(P) times and doubles its channels up to embed_dim, which needs ",
          "a patch size that is a power of two (2, 4, 8, ..) and embed_dim divisible by patch/2; got patch ",
          patch_size, ", embed_dim ", embed_dim);
    check(dropout >= 0 && dropout < 1, "Swin: dropout must be in [0, 1), got ", dropout);
    check(drop_path >= 0 && drop_path < 1, "Swin: drop_path must be in [0, 1), got ", drop_path);
    check(layer_norm_eps > 0, "Swin: layer_norm_eps must be positive, got ", layer_norm_eps);
    int64_t grid = image_size / patch_size, dim = embed_dim;
    for (size_t i = 0; i < depths.size(); ++i) {
        check(depths[i] > 0 && heads[i] > 0, "Swin: stage ", i, " needs positive depth and heads, got ", depths[i],
              " and ", heads[i]);
        check(dim % heads[i] == 0, "Swin: stage ", i, " has ", dim, " channels, not divisible by its ", heads[i],
              " heads");
        check(grid % effective_window(grid, window_size) == 0, "Swin: stage ", i, " has a ", grid, "x", grid,
              " token grid, not divisible by the window size ", window_size);
        if (i + 1 < depths.size()) {
            check(grid % 2 == 0, "Swin: stage ", i, " has a ", grid, "x", grid, " token grid; patch merging needs ",
                  "an even grid");
            grid /= 2;
            dim *= 2;
        }
    }
}

// Stage i: the grid halves and the channels double after every stage but the last (patch merging).
std::vector<SwinStageLayout> SwinConfig::stages() const {
    validate();
    std::vector<SwinStageLayout> layout;
    int64_t grid = image_size / patch_size, dim = embed_dim;
    for (size_t i = 0; i < depths.size(); ++i) {
        const bool downsample = i + 1 < depths.size();
        layout.push_back({.grid = grid, .channels = dim, .depth = depths[i], .heads = heads[i],
                          .window = effective_window(grid, window_size),
                          .shift = effective_shift(grid, window_size, window_size / 2), .downsample = downsample});
        if (downsample) {
            grid /= 2;
            dim *= 2;
        }
    }
    return layout;
}

// All the blocks of the model, stage after stage, on one line from 0 to drop_path (timm's Swin does the same:
// dpr = linspace(0, drop_path_rate, sum(depths)), cut into stages).
std::vector<double> SwinConfig::drop_path_rates() const {
    int64_t blocks = 0;
    for (int64_t depth : depths) blocks += depth;
    return stochastic_depth_rates(drop_path, blocks);
}

// Counted layer by layer, for a stage of C channels, h heads, F = mlp_ratio * C, window M':
//   patch_embed     C0*Cin*P*P + C0, or a conv stem's (nn/embedding.h), + 2 C0 (its LayerNorm)
//   each block      LN 2C + qkv (3C*C + 3C) + proj (C*C + C) + table (2M'-1)^2 * h + LN 2C + fc1 (F*C + F)
//                   + fc2 (C*F + C)
//   patch merging   LN 2*4C + reduction 4C*2C (no bias)
//   norm, head      2 C_last + K*C_last + K
int64_t SwinConfig::parameter_count() const {
    const int64_t C0 = embed_dim;
    int64_t count = patch_embedding_parameter_count(in_channels, patch_size, C0, stem) + 2 * C0;
    int64_t C = C0;
    for (const SwinStageLayout& stage : stages()) {
        C = stage.channels;
        const int64_t F = static_cast<int64_t>(mlp_ratio * C), M = stage.window;
        const int64_t block = 2 * C + (3 * C * C + 3 * C) + (C * C + C) + (2 * M - 1) * (2 * M - 1) * stage.heads +
                              2 * C + (F * C + F) + (C * F + C);
        count += stage.depth * block;
        if (stage.downsample) count += 2 * 4 * C + 4 * C * 2 * C;
    }
    return count + 2 * C + num_classes * C + num_classes;
}

// Counted product by product for one image, 2 flops a multiply-add; a stage has L = grid^2 tokens of C
// channels, F = mlp_ratio * C, windows of N = M'^2 tokens (L / N of them), nH heads of C/nH:
//   patch_embed     (L0, Cin*P*P) @ (Cin*P*P, C0)                       2 L0 (Cin P P) C0
//                   or a conv stem's products (nn/embedding.h)
//   each block      qkv (L, C) @ (C, 3C)                                2 L C 3C
//                   scores q k^T: L/N windows x nH x (N, C/nH) @ (C/nH, N)   2 L N C
//                   weights @ v:  L/N windows x nH x (N, N) @ (N, C/nH)      2 L N C
//                   proj (L, C) @ (C, C); fc1 (L, C) @ (C, F), fc2 (L, F) @ (F, C)
//   patch merging   reduction (L/4, 4C) @ (4C, 2C)                      2 (L/4) 4C 2C
//   head            (1, C_last) @ (C_last, K): the mean-pooled token    2 C_last K
int64_t SwinConfig::forward_flops() const {
    int64_t flops = patch_embedding_flops(in_channels, patch_size, embed_dim, image_size, stem);
    int64_t C = embed_dim;
    for (const SwinStageLayout& stage : stages()) {
        C = stage.channels;
        const int64_t L = stage.grid * stage.grid, N = stage.window * stage.window;
        const int64_t F = static_cast<int64_t>(mlp_ratio * C);
        const int64_t block = 2 * L * C * 3 * C + 2 * L * N * C + 2 * L * N * C + 2 * L * C * C + 2 * L * C * F * 2;
        flops += stage.depth * block;
        if (stage.downsample) flops += 2 * (L / 4) * (4 * C) * (2 * C);
    }
    return flops + 2 * C * num_classes;
}

// Each block's relative_position_index, (N, N) with N = M'^2 the tokens of a window.
int64_t SwinConfig::buffer_count() const {
    int64_t count = 0;
    for (const SwinStageLayout& stage : stages()) {
        const int64_t N = stage.window * stage.window;
        count += stage.depth * N * N;
    }
    return count;
}

// ---- window attention ---------------------------------------------------------------------------------------

WindowAttention::WindowAttention(int64_t dim, int64_t heads, int64_t window_size, Rng& rng, double dropout)
    : MultiHeadSelfAttention(dim, heads, rng, dropout), window_size_(window_size) {
    const int64_t offsets = (2 * window_size - 1) * (2 * window_size - 1);  // (dy, dx) pairs
    relative_position_bias_table =
        register_parameter("relative_position_bias_table", trunc_normal({offsets, heads}, 0.02, rng));
    relative_position_index = register_buffer("relative_position_index", patchgrad::relative_position_index(window_size));
}

// windows (B*nW, N, C), mask (nW, N, N) -> (B*nW, N, C)
//   scores of window w, head h:  q k^T / sqrt(D) + table[index] (the same for every window) + mask[w]
Tensor WindowAttention::forward(const Tensor& windows, Rng& rng, const Tensor& mask, Tensor* weights) const {
    const int64_t N = window_size_ * window_size_;
    check(windows.dim() == 3 && windows.size(1) == N, "WindowAttention: expected windows (B*nW, ", N, ", C), got ",
          windows.shape());
    Tensor bias = reshape(relative_position_bias(relative_position_bias_table, relative_position_index),
                          {1, num_heads(), N, N});  // (1, nH, N, N)
    if (mask.defined()) {
        // One bias per window and head: (1, nH, N, N) + (nW, 1, N, N) -> (nW, nH, N, N). Window i of the
        // batch is window i mod nW of its image, and the attention op reads it so: a bias whose batch
        // size divides the op's is repeated over the batch (core/ops.h), without a (B*nW, nH, N, N) copy.
        const int64_t nW = mask.size(0);
        bias = bias + reshape(mask, {nW, 1, N, N});  // (nW, nH, N, N)
    }
    return MultiHeadSelfAttention::forward(windows, rng, bias, weights);
}

// ---- block ----------------------------------------------------------------------------------------------

SwinBlock::SwinBlock(int64_t dim, int64_t heads, int64_t H, int64_t W, int64_t window_size, int64_t shift,
                     double mlp_ratio, double layer_norm_eps, double dropout, Rng& rng, double drop_path_rate)
    : norm1(dim, layer_norm_eps),
      attn(dim, heads, effective_window(std::min(H, W), window_size), rng, dropout),
      norm2(dim, layer_norm_eps),
      mlp(dim, static_cast<int64_t>(mlp_ratio * dim), rng, dropout),
      H_(H), W_(W), window_size_(effective_window(std::min(H, W), window_size)),
      shift_(effective_shift(std::min(H, W), window_size, shift)), drop_path_rate_(drop_path_rate) {
    check(drop_path_rate >= 0 && drop_path_rate < 1, "SwinBlock: drop_path_rate must be in [0, 1), got ",
          drop_path_rate);
    check(H % window_size_ == 0 && W % window_size_ == 0, "SwinBlock: a ", H, "x", W,
          " grid is not divisible by the window size ", window_size_);
    check(shift_ >= 0 && shift_ < window_size_, "SwinBlock: shift ", shift_, " must be in [0, ", window_size_, ")");
    if (shift_ > 0) mask_ = shifted_window_mask(H, W, window_size_, shift_);
    to_windows_ = window_token_order(H, W, window_size_, shift_);
    from_windows_ = inverse_order(to_windows_);
    register_module("norm1", norm1);
    register_module("attn", attn);
    register_module("norm2", norm2);
    register_module("mlp", mlp);
}

Tensor SwinBlock::forward(const Tensor& x, Rng& rng, Tensor* attention) const {
    const int64_t B = x.size(0), C = x.size(2), M = window_size_;
    check(x.dim() == 3 && x.size(1) == H_ * W_, "SwinBlock: expected tokens (B, ", H_ * W_, ", C), got ", x.shape());
    const int64_t N = M * M, nW = H_ * W_ / N;
    Tensor tokens = norm1.forward(x);                                                   // (B, H*W, C)
    if (kernels() == Kernels::reference) {
        // The paper's steps: roll -> partition -> attend -> reverse -> roll back.
        Tensor grid = cyclic_shift(reshape(tokens, {B, H_, W_, C}), shift_);            // (B, H, W, C)
        Tensor windows = window_partition(grid, M);                                     // (B*nW, N, C)
        windows = attn.forward(windows, rng, mask_, attention);                         // (B*nW, N, C)
        grid = reverse_cyclic_shift(window_reverse(windows, M, H_, W_), shift_);        // (B, H, W, C)
        tokens = reshape(grid, {B, H_ * W_, C});                                        // (B, H*W, C)
    } else {
        // cyclic_shift then window_partition only reorder tokens, so they are one gather in the order
        // window_token_order computed from them (nn/window.h): one copy, not two.
        Tensor windows = reshape(index_select(tokens, 1, to_windows_), {B * nW, N, C});  // (B*nW, N, C)
        windows = attn.forward(windows, rng, mask_, attention);                           // (B*nW, N, C)
        // window_reverse then reverse_cyclic_shift: the inverse gather.
        tokens = index_select(reshape(windows, {B, nW * N, C}), 1, from_windows_);      // (B, H*W, C)
    }
    // Both paths meet here: drop_path draws after the attention's dropout, and nothing at rate 0 or in eval.
    const Tensor h = x + drop_path(tokens, drop_path_rate_, is_training(), rng);        // (B, H*W, C)
    const Tensor transformed = mlp.forward(norm2.forward(h), rng);                      // (B, H*W, C)
    return h + drop_path(transformed, drop_path_rate_, is_training(), rng);             // (B, H*W, C)
}

// ---- patch merging ----------------------------------------------------------------------------------------

PatchMerging::PatchMerging(int64_t dim, int64_t H, int64_t W, double layer_norm_eps, Rng& rng)
    : norm(4 * dim, layer_norm_eps), reduction(4 * dim, 2 * dim, rng, /*has_bias=*/false), H_(H), W_(W) {
    register_module("norm", norm);
    register_module("reduction", reduction);
}

Tensor PatchMerging::forward(const Tensor& x) const {
    const Tensor gathered = kernels() == Kernels::reference ? patch_merging_gather_reference(x, H_, W_)
                                                            : patch_merging_gather(x, H_, W_);  // (B, H/2*W/2, 4C)
    return reduction.forward(norm.forward(gathered));                                         // (B, H/2*W/2, 2C)
}

// ---- stage and model ----------------------------------------------------------------------------------------

SwinStage::SwinStage(const SwinStageLayout& layout, const SwinConfig& config,
                     const std::vector<double>& drop_path_rates, Rng& rng) {
    const int64_t C = layout.channels, H = layout.grid, W = layout.grid;
    check(static_cast<int64_t>(drop_path_rates.size()) == layout.depth, "SwinStage: ", drop_path_rates.size(),
          " drop-path rates for ", layout.depth, " blocks");
    for (int64_t j = 0; j < layout.depth; ++j) {
        // W-MSA, SW-MSA, W-MSA, ...; the block itself turns the shift off (and clamps the window) when one
        // window covers the grid, by the same rule as layout.window and layout.shift
        const int64_t shift = j % 2 == 0 ? 0 : config.window_size / 2;
        blocks.push_back(std::make_unique<SwinBlock>(C, layout.heads, H, W, config.window_size, shift,
                                                     config.mlp_ratio, config.layer_norm_eps, config.dropout, rng,
                                                     drop_path_rates[size_t(j)]));
    }
    register_module("blocks", blocks);
    if (layout.downsample) {
        downsample = std::make_unique<PatchMerging>(C, H, W, config.layer_norm_eps, rng);
        register_module("downsample", *downsample);
    }
}

Tensor SwinStage::forward(const Tensor& x, Rng& rng, std::vector<Tensor>* attention) const {
    Tensor h = x;
    for (size_t j = 0; j < blocks.size(); ++j) {
        Tensor weights;
        h = blocks[j].forward(h, rng, attention ? &weights : nullptr);
        if (attention) attention->push_back(weights);
    }
    return downsample ? downsample->forward(h) : h;
}

NormalizedPatchEmbedding::NormalizedPatchEmbedding(int64_t in_channels, int64_t patch, int64_t dim,
                                                   int64_t image_size, Stem stem, double layer_norm_eps, Rng& rng)
    : PatchEmbedding(in_channels, patch, dim, image_size, rng, stem, layer_norm_eps), norm(dim, layer_norm_eps) {
    register_module("norm", norm);
}

Tensor NormalizedPatchEmbedding::forward(const Tensor& images) const {
    return norm.forward(PatchEmbedding::forward(images));  // (B, N, D)
}

static SwinConfig validated(const SwinConfig& config) {
    config.validate();
    return config;
}

SwinTransformer::SwinTransformer(const SwinConfig& config, Rng& rng)
    : patch_embed(validated(config).in_channels, config.patch_size, config.embed_dim, config.image_size,
                  config.stem, config.layer_norm_eps, rng),
      pos_drop(config.dropout),
      norm(config.embed_dim << (config.depths.size() - 1), config.layer_norm_eps),
      head(config.embed_dim << (config.depths.size() - 1), config.num_classes, rng),
      config_(config) {
    register_module("patch_embed", patch_embed);
    const std::vector<double> drop_path_rates = config.drop_path_rates();  // every block of every stage, in order
    size_t first_block = 0;                                                 // of the stage being built
    for (const SwinStageLayout& stage : config.stages()) {
        const auto first = drop_path_rates.begin() + static_cast<std::ptrdiff_t>(first_block);
        const std::vector<double> stage_rates(first, first + stage.depth);
        layers.push_back(std::make_unique<SwinStage>(stage, config, stage_rates, rng));
        first_block += static_cast<size_t>(stage.depth);
    }
    register_module("layers", layers);
    register_module("norm", norm);
    register_module("head", head);
    use_kernels(config.kernels);
}

Tensor SwinTransformer::forward(const Tensor& images, Rng& rng) const { return forward(images, rng, nullptr); }

Tensor SwinTransformer::forward(const Tensor& images, Rng& rng, std::vector<Tensor>* attention) const {
    const SwinConfig& c = config_;
    check(images.dim() == 4 && images.size(1) == c.in_channels && images.size(2) == c.image_size &&
              images.size(3) == c.image_size,
          "SwinTransformer: expected images (B, ", c.in_channels, ", ", c.image_size, ", ", c.image_size, "), got ",
          images.shape());
    Tensor x = pos_drop.forward(patch_embed.forward(images), rng);  // (B, H*W, C0)
    for (size_t i = 0; i < layers.size(); ++i) x = layers[i].forward(x, rng, attention);
    x = mean(norm.forward(x), 1);                                     // (B, C_last)
    return head.forward(x);                                           // (B, K)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
