#include "nn/vit.h"

#include "core/ops.h"
#include "nn/init.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const char* to_string(Pooling pooling) { return pooling == Pooling::cls ? "cls" : "mean"; }

void ViTConfig::validate() const {
    check(image_size > 0 && in_channels > 0 && patch_size > 0 && dim > 0 && depth > 0 && heads > 0 &&
              mlp_dim > 0 && num_classes > 0,
          "ViT: every size must be positive (image ", image_size, ", channels ", in_channels, ", patch ", patch_size,
          ", dim ", dim, ", depth ", depth, ", heads ", heads, ", mlp ", mlp_dim, ", classes ", num_classes, ")");
    check(image_size % patch_size == 0, "ViT: patch size ", patch_size, " does not divide the image size ",
          image_size);
    check(dim % heads == 0, "ViT: heads ", heads, " do not divide dim ", dim);
    check(!shifted_patches || patch_size >= 2, "ViT: shifted patches move copies of the image by half a patch, ",
          "which needs a patch size of 2 or more, got ", patch_size);
    check(stem == Stem::patch || conv_stem_fits(patch_size, dim),
          "ViT: a conv stem halves the image log2(P) times and doubles its channels up to dim, which needs a ",
          "patch size that is a power of two (2, 4, 8, ..) and dim divisible by patch/2; got patch ", patch_size,
          ", dim ", dim);
    check(dropout >= 0 && dropout < 1, "ViT: dropout must be in [0, 1), got ", dropout);
    check(drop_path >= 0 && drop_path < 1, "ViT: drop_path must be in [0, 1), got ", drop_path);
    check(layer_norm_eps > 0, "ViT: layer_norm_eps must be positive, got ", layer_norm_eps);
    check(position != PositionEmbeddingKind::sincos_2d || dim % 4 == 0, "ViT: the 2D sin-cos position ",
          "embedding needs dim divisible by 4, got ", dim);
    check(position != PositionEmbeddingKind::sincos_1d || dim % 2 == 0, "ViT: the 1D sinusoidal position ",
          "embedding needs an even dim, got ", dim);
}

// Counted layer by layer (W for weights, b for biases, LN = weight + bias), with E = C channels into the
// patch embedding, or 5C with shifted patches:
//   patch_embed      D*E*P*P + D                                  patches
//                    sum over conv i of C_i*C_{i-1}*9 + C_i, and 2 C_i for the LayerNorm after every conv
//                    but the last                                 conv stem: C_{-1} = E, C_{n-1} = D
//   cls_token        D                     (CLS pooling)
//   pos_embed        T*D  learned 1D  |  (h + w)*D  learned 2D  |  0 fixed sin-cos
//   each block       LN 2D + qkv (3D*D + 3D) + proj (D*D + D) + LN 2D + fc1 (F*D + F) + fc2 (D*F + D)
//   norm             2D
//   head             K*D + K
int64_t ViTConfig::parameter_count() const {
    const int64_t D = dim, F = mlp_dim, grid = image_size / patch_size;
    const int64_t tokens = grid * grid + (pooling == Pooling::cls ? 1 : 0);
    int64_t position_params = 0;
    if (position == PositionEmbeddingKind::learned_1d) position_params = tokens * D;
    if (position == PositionEmbeddingKind::learned_2d) position_params = 2 * grid * D;
    const int64_t block = 2 * D + (3 * D * D + 3 * D) + (D * D + D) + 2 * D + (F * D + F) + (D * F + D);
    const int64_t embedding = patch_embedding_parameter_count(patch_channels(), patch_size, D, stem);
    return embedding + (pooling == Pooling::cls ? D : 0) + position_params +
           depth * block + 2 * D + (num_classes * D + num_classes);
}

// Counted product by product for one image (N patches, T tokens, H heads of D/H), 2 flops a multiply-add:
//   patch_embed   (N, E*P*P) @ (E*P*P, D)                        2 N (E P P) D   (E as above)
//     conv stem   conv i: (L_i, 9 C_{i-1}) @ (9 C_{i-1}, C_i)     2 L_i (9 C_{i-1}) C_i, L_i = (S / 2^(i+1))^2
//   each block    qkv (T, D) @ (D, 3D)                           2 T D 3D
//                 scores q k^T: H x (T, D/H) @ (D/H, T)          2 T T D
//                 weights @ v:  H x (T, T) @ (T, D/H)            2 T T D
//                 proj (T, D) @ (D, D)                           2 T D D
//                 fc1 (T, D) @ (D, F), fc2 (T, F) @ (F, D)       2 T D F each
//   head          (1, D) @ (D, K): the one pooled token          2 D K
int64_t ViTConfig::forward_flops() const {
    const int64_t D = dim, F = mlp_dim, N = (image_size / patch_size) * (image_size / patch_size);
    const int64_t T = N + (pooling == Pooling::cls ? 1 : 0);
    const int64_t block = 2 * T * D * 3 * D + 2 * T * T * D + 2 * T * T * D + 2 * T * D * D + 2 * T * D * F * 2;
    const int64_t embedding = patch_embedding_flops(patch_channels(), patch_size, D, image_size, stem);
    return embedding + depth * block + 2 * D * num_classes;
}

std::vector<double> ViTConfig::drop_path_rates() const { return stochastic_depth_rates(drop_path, depth); }

// The sin-cos kinds register their (1, T, D) table as the buffer pos_embed; the learned kinds have none.
int64_t ViTConfig::buffer_count() const {
    if (position != PositionEmbeddingKind::sincos_1d && position != PositionEmbeddingKind::sincos_2d) return 0;
    const int64_t grid = image_size / patch_size;
    return (grid * grid + (pooling == Pooling::cls ? 1 : 0)) * dim;
}

TransformerEncoderBlock::TransformerEncoderBlock(int64_t dim, int64_t heads, int64_t mlp_dim, double layer_norm_eps,
                                                 double dropout, Rng& rng, double drop_path_rate)
    : norm1(dim, layer_norm_eps), attn(dim, heads, rng, dropout), norm2(dim, layer_norm_eps),
      mlp(dim, mlp_dim, rng, dropout), drop_path_rate_(drop_path_rate) {
    check(drop_path_rate >= 0 && drop_path_rate < 1, "TransformerEncoderBlock: drop_path_rate must be in [0, 1), got ",
          drop_path_rate);
    register_module("norm1", norm1);
    register_module("attn", attn);
    register_module("norm2", norm2);
    register_module("mlp", mlp);
}

// drop_path draws after the branch it follows (its B draws come after the branch's dropout draws), and
// draws nothing at rate 0 or in eval mode: a model without stochastic depth sees the same random stream.
Tensor TransformerEncoderBlock::forward(const Tensor& x, Rng& rng, Tensor* attention) const {
    const Tensor attended = attn.forward(norm1.forward(x), rng, Tensor(), attention);    // (B, T, D)
    const Tensor h = x + drop_path(attended, drop_path_rate_, is_training(), rng);       // (B, T, D)
    const Tensor transformed = mlp.forward(norm2.forward(h), rng);                       // (B, T, D)
    return h + drop_path(transformed, drop_path_rate_, is_training(), rng);              // (B, T, D)
}

static ViTConfig validated(const ViTConfig& config) {
    config.validate();
    return config;
}

VisionTransformer::VisionTransformer(const ViTConfig& config, Rng& rng)
    : patch_embed(validated(config).patch_channels(), config.patch_size, config.dim, config.image_size, rng,
                  config.stem, config.layer_norm_eps),
      position(config.position, config.image_size / config.patch_size, config.image_size / config.patch_size,
               config.dim, config.pooling == Pooling::cls, rng),
      pos_drop(config.dropout), norm(config.dim, config.layer_norm_eps),
      head(config.dim, config.num_classes, rng), config_(config) {
    // Registration order is timm's state_dict order.
    if (config.pooling == Pooling::cls)
        cls_token = register_parameter("cls_token", trunc_normal({1, 1, config.dim}, 0.02, rng));
    // The position embedding's tensors sit at the top level, as in timm: "pos_embed" (1, T, D) for the
    // learned 1D kind (a buffer for the fixed sin-cos kinds), "pos_embed_row" / "pos_embed_col" for 2D.
    switch (config.position) {
        case PositionEmbeddingKind::learned_1d: register_parameter("pos_embed", position.pos_embed); break;
        case PositionEmbeddingKind::learned_2d:
            register_parameter("pos_embed_row", position.row_embed);
            register_parameter("pos_embed_col", position.col_embed);
            break;
        case PositionEmbeddingKind::sincos_1d:
        case PositionEmbeddingKind::sincos_2d: register_buffer("pos_embed", position.pos_embed); break;
    }
    register_module("patch_embed", patch_embed);
    const std::vector<double> drop_path_rates = config.drop_path_rates();  // 0 ... drop_path, one per block
    for (int64_t i = 0; i < config.depth; ++i)
        blocks.push_back(std::make_unique<TransformerEncoderBlock>(config.dim, config.heads, config.mlp_dim,
                                                                   config.layer_norm_eps, config.dropout, rng,
                                                                   drop_path_rates[size_t(i)]));
    register_module("blocks", blocks);
    register_module("norm", norm);
    register_module("head", head);
    use_kernels(config.kernels);
}

Tensor VisionTransformer::forward(const Tensor& images, Rng& rng) const { return forward(images, rng, nullptr); }

Tensor VisionTransformer::forward(const Tensor& images, Rng& rng, std::vector<Tensor>* attention) const {
    const ViTConfig& c = config_;
    check(images.dim() == 4 && images.size(1) == c.in_channels && images.size(2) == c.image_size &&
              images.size(3) == c.image_size,
          "VisionTransformer: expected images (B, ", c.in_channels, ", ", c.image_size, ", ", c.image_size,
          "), got ", images.shape());
    const Tensor pixels = c.shifted_patches ? shifted_copies(images, c.patch_size / 2)  // (B, 5C, S, S)
                                            : images;                                   // (B, C, S, S)
    Tensor x = patch_embed.forward(pixels);                      // (B, N, D)
    if (c.pooling == Pooling::cls) x = prepend_cls(x, cls_token);  // (B, T, D), T = N + 1
    x = pos_drop.forward(position.forward(x), rng);              // (B, T, D)
    for (size_t i = 0; i < blocks.size(); ++i) {
        Tensor weights;
        x = blocks[i].forward(x, rng, attention ? &weights : nullptr);  // (B, T, D)
        if (attention) attention->push_back(weights);
    }
    x = norm.forward(x);                                          // (B, T, D)
    const int64_t B = x.size(0), D = x.size(2);
    Tensor pooled = c.pooling == Pooling::cls ? reshape(slice(x, 1, 0, 1), {B, D})  // the CLS token (B, D)
                                              : mean(x, 1);                          // the mean token (B, D)
    return head.forward(pooled);                                  // (B, K)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
