#include "nn/embedding.h"

#include <cmath>

#include "core/ops.h"
#include "nn/init.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- patches -------------------------------------------------------------------------------------------

// images (B, C, Hi, Wi) -> (B, N, C*P*P). Follow one pixel (b, c, i*P + u, j*P + v) through the steps:
//   reshape: (B, C, h, P, w, P)   the row index i*P + u splits into (i, u), the column j*P + v into (j, v):
//                                 a reshape, because row-major order already lists u inside i, v inside j
//   permute: (B, h, w, C, P, P)   bring the patch coordinates (i, j) out in front of (c, u, v)
//   reshape: (B, h*w, C*P*P)      merge (i, j) into n = i*w + j and (c, u, v) into (c*P + u)*P + v
// Skipping the permute gives the right shape and the wrong numbers: each "patch" would be a run of C*P*P
// consecutive pixels of one image row, not a square (tests/test_embedding.cpp checks that they differ).
Tensor patchify(const Tensor& images, int64_t patch) {
    check(images.defined() && images.dim() == 4, "patchify: images must be (B, C, H, W), got ",
          images.defined() ? images.shape() : Shape{});
    check(patch > 0, "patchify: patch size ", patch, " must be positive");
    const int64_t B = images.size(0), C = images.size(1), Hi = images.size(2), Wi = images.size(3);
    check(Hi % patch == 0 && Wi % patch == 0, "patchify: images ", images.shape(), " have height ", Hi,
          " and width ", Wi, ", which must both be divisible by the patch size ", patch);
    const int64_t h = Hi / patch, w = Wi / patch, P = patch;
    Tensor x = reshape(images, {B, C, h, P, w, P});    // (B, C, h, P, w, P)
    x = permute(x, {0, 2, 4, 1, 3, 5});                // (B, h, w, C, P, P)
    return reshape(x, {B, h * w, C * P * P});          // (B, N, C*P*P)
}

PatchProjection::PatchProjection(int64_t in_channels, int64_t kernel, int64_t dim, Rng& rng) {
    check(in_channels > 0 && kernel > 0 && dim > 0, "PatchProjection: in_channels ", in_channels, ", kernel ",
          kernel, " and dim ", dim, " must all be positive");
    weight = register_parameter("weight", trunc_normal({dim, in_channels, kernel, kernel}, 0.02, rng));
    bias = register_parameter("bias", Tensor::zeros({dim}));
}

// P = 2^n: n halvings of the side. 0 when P is not a power of two (or is 1): no conv stem fits.
int64_t conv_stem_depth(int64_t patch) {
    int64_t n = 0;
    for (int64_t side = patch; side > 1 && side % 2 == 0; side /= 2) ++n;
    return patch > 1 && (int64_t(1) << n) == patch ? n : 0;
}

bool conv_stem_fits(int64_t patch, int64_t dim) { return conv_stem_depth(patch) > 0 && dim % (patch / 2) == 0; }

std::vector<int64_t> conv_stem_channels(int64_t patch, int64_t dim) {
    const int64_t n = conv_stem_depth(patch);
    std::vector<int64_t> channels;
    for (int64_t i = 0; i < n; ++i) channels.push_back(dim >> (n - 1 - i));  // ..., D/4, D/2, D
    return channels;
}

int64_t patch_embedding_parameter_count(int64_t in_channels, int64_t patch, int64_t dim, Stem stem) {
    if (stem == Stem::patch) return dim * in_channels * patch * patch + dim;
    const std::vector<int64_t> channels = conv_stem_channels(patch, dim);
    int64_t count = 0, inputs = in_channels;
    for (size_t i = 0; i < channels.size(); ++i) {
        const bool normalized = i + 1 < channels.size();  // a LayerNorm after every conv but the last
        count += channels[i] * inputs * 9 + channels[i] + (normalized ? 2 * channels[i] : 0);
        inputs = channels[i];
    }
    return count;
}

int64_t patch_embedding_flops(int64_t in_channels, int64_t patch, int64_t dim, int64_t image_size, Stem stem) {
    const int64_t grid = image_size / patch;
    if (stem == Stem::patch) return 2 * grid * grid * (in_channels * patch * patch) * dim;
    int64_t flops = 0, inputs = in_channels, side = image_size;
    for (const int64_t channels : conv_stem_channels(patch, dim)) {
        side /= 2;
        flops += 2 * side * side * (9 * inputs) * channels;
        inputs = channels;
    }
    return flops;
}

// The input channels of proj: C for patches; for a conv stem, the channels of the conv before the last
// (C itself when the stem has one conv). With Stem::conv, proj is the last conv (D, C_{n-1}, 3, 3), built
// before the others, so a stem draws its random numbers in the order proj, convs.0, convs.1, ...
static int64_t proj_inputs(int64_t in_channels, int64_t patch, int64_t dim, Stem stem) {
    if (stem == Stem::patch) return in_channels;
    check(conv_stem_fits(patch, dim), "PatchEmbedding: a conv stem halves the side ",
          "log2(P) times and doubles the channels up to D, which needs P a power of two (2, 4, 8, ..) and D ",
          "divisible by P/2; got P ", patch, ", D ", dim);
    const std::vector<int64_t> channels = conv_stem_channels(patch, dim);
    return channels.size() >= 2 ? channels[channels.size() - 2] : in_channels;
}

PatchEmbedding::PatchEmbedding(int64_t in_channels, int64_t patch, int64_t dim, int64_t image_size, Rng& rng,
                               Stem stem, double layer_norm_eps)
    : proj(proj_inputs(in_channels, patch, dim, stem), stem == Stem::patch ? patch : 3, dim, rng),
      in_channels_(in_channels), patch_(patch), dim_(dim), image_size_(image_size), stem_(stem) {
    check(image_size > 0 && image_size % patch == 0, "PatchEmbedding: image_size ", image_size,
          " is not divisible by patch ", patch);
    register_module("proj", proj);
    if (stem == Stem::conv) {
        const std::vector<int64_t> channels = conv_stem_channels(patch, dim);
        int64_t inputs = in_channels;
        for (size_t i = 0; i + 1 < channels.size(); ++i) {
            convs.push_back(std::make_unique<PatchProjection>(inputs, 3, channels[i], rng));
            norms.push_back(std::make_unique<LayerNorm>(channels[i], layer_norm_eps));
            inputs = channels[i];
        }
        register_module("convs", convs);
        register_module("norms", norms);
    }
}

// One 3 x 3 convolution of stride 2 and padding 1: the side halves (S even).
//   x (B, C_in, S, S) -> unfold -> (B, (S/2)^2, C_in*9) -> linear -> (B, (S/2)^2, C_out)
// The layers after the first get x channels last, (B, S, S, C_in), as their LayerNorm left it. The fused
// kernels unfold it as it lies, with the weight's numbers reordered to (C_out, 3, 3, C_in) to match
// (unfold_channels_last, core/ops/movement.cpp); the textbook twin permutes x to (B, C_in, S, S) first
// and unfolds that with slices (unfold_reference): the same windows, the same sums in another order.
Tensor PatchEmbedding::convolve(const Tensor& x, const PatchProjection& conv, bool channels_last) const {
    const int64_t out_channels = conv.weight.size(0), inputs = conv.weight.size(1);
    if (kernels() == Kernels::reference) {
        const Tensor images = channels_last ? permute(x, {0, 3, 1, 2}) : x;        // (B, C_in, S, S)
        const Tensor windows = unfold_reference(images, 3, 2, 1);                // (B, L, C_in*9)
        return linear_reference(windows, reshape(conv.weight, {out_channels, inputs * 9}), conv.bias);
    }
    if (!channels_last)
        return linear(unfold(x, 3, 2, 1), reshape(conv.weight, {out_channels, inputs * 9}), conv.bias);
    const Tensor windows = unfold_channels_last(x, 3, 2, 1);                       // (B, L, 9*C_in)
    const Tensor w = reshape(permute(conv.weight, {0, 2, 3, 1}), {out_channels, 9 * inputs});  // (u, v, c) order
    return linear(windows, w, conv.bias);                                          // (B, L, C_out)
}

// Stem::patch: out[b, i*w + j, d] = bias[d] + sum_{c,u,v} weight[d, c, u, v] * images[b, c, i*P + u, j*P + v]
// which is a PxP convolution with stride P, computed as one matrix product over all patches.
Tensor PatchEmbedding::forward(const Tensor& images) const {
    check(images.defined() && images.dim() == 4 && images.size(1) == in_channels_ && images.size(2) == image_size_ &&
              images.size(3) == image_size_,
          "PatchEmbedding: images ", images.defined() ? images.shape() : Shape{}, ", expected (B, ", in_channels_,
          ", ", image_size_, ", ", image_size_, ")");
    if (stem_ == Stem::patch) {
        const int64_t P = patch_;
        Tensor patches = patchify(images, P);                                    // (B, N, C*P*P)
        Tensor w = reshape(proj.weight, {dim_, in_channels_ * P * P});           // (D, C*P*P): (c, u, v) order
        return kernels() == Kernels::reference ? linear_reference(patches, w, proj.bias)
                                               : linear(patches, w, proj.bias);  // (B, N, D)
    }
    const int64_t B = images.size(0);
    Tensor x = images;                                                        // (B, C, S, S)
    int64_t side = image_size_;
    for (size_t i = 0; i < convs.size(); ++i) {
        side /= 2;
        Tensor h = convolve(x, convs[i], i > 0);                              // (B, side^2, C_i)
        h = norms[i].forward(h);                                              // each pixel over its channels
        h = kernels() == Kernels::reference ? gelu_reference(h) : gelu(h);
        x = reshape(h, {B, side, side, h.size(2)});                           // (B, side, side, C_i)
    }
    return convolve(x, proj, convs.size() > 0);                               // (B, N, D)
}

// ---- the CLS token -------------------------------------------------------------------------------------

// tokens (B, N, D), cls (1, 1, D) -> (B, 1+N, D)
Tensor prepend_cls(const Tensor& tokens, const Tensor& cls) {
    check(tokens.defined() && cls.defined() && tokens.dim() == 3 && cls.dim() == 3 && cls.size(0) == 1 &&
              cls.size(1) == 1 && cls.size(2) == tokens.size(2),
          "prepend_cls: tokens ", tokens.defined() ? tokens.shape() : Shape{}, " and cls ",
          cls.defined() ? cls.shape() : Shape{}, ": expected tokens (B, N, D) and cls (1, 1, D)");
    const int64_t B = tokens.size(0), D = tokens.size(2);
    Tensor cls_rows = expand(cls, {B, 1, D});                                 // (B, 1, D): B copies
    return concat({cls_rows, tokens}, 1);                                     // (B, 1+N, D)
}

// ---- position encodings --------------------------------------------------------------------------------

const char* to_string(PositionEmbeddingKind kind) {
    switch (kind) {
        case PositionEmbeddingKind::learned_1d: return "learned_1d";
        case PositionEmbeddingKind::learned_2d: return "learned_2d";
        case PositionEmbeddingKind::sincos_1d: return "sincos_1d";
        case PositionEmbeddingKind::sincos_2d: return "sincos_2d";
    }
    return "unknown";
}

// Channel pair (2i, 2i+1) is a clock turning at frequency 1 / 10000^(2i/D): pair 0 turns once per
// 2 pi tokens, the last pair about 10000 times slower. Each position gets a distinct set of clock
// readings, and PE[t + k] is a fixed rotation of PE[t] for any offset k, whatever t is.
Tensor sincos_1d_table(int64_t T, int64_t D) {
    check(T >= 0 && D > 0 && D % 2 == 0, "sincos_1d_table: D ", D, " must be positive and even (sin/cos pairs), T ",
          T, " non-negative");
    Tensor table = Tensor::empty({T, D});                                     // (T, D)
    Scalar* pe = table.data();
    for (int64_t t = 0; t < T; ++t) {
        for (int64_t i = 0; i < D / 2; ++i) {
            const double angle = static_cast<double>(t) / std::pow(10000.0, 2.0 * i / D);
            pe[t * D + 2 * i] = static_cast<Scalar>(std::sin(angle));
            pe[t * D + 2 * i + 1] = static_cast<Scalar>(std::cos(angle));
        }
    }
    return table;
}

Tensor sincos_2d_table(int64_t h, int64_t w, int64_t D) {
    check(h > 0 && w > 0 && D > 0 && D % 4 == 0, "sincos_2d_table: D ", D,
          " must be divisible by 4 (half for rows, half for columns, each in sin/cos pairs); grid ", h, " x ", w);
    const int64_t half = D / 2;
    const Tensor rows = sincos_1d_table(h, half);                             // (h, D/2)
    const Tensor cols = sincos_1d_table(w, half);                             // (w, D/2)
    Tensor table = Tensor::empty({h * w, D});                                 // (N, D)
    Scalar* pe = table.data();
    for (int64_t r = 0; r < h; ++r) {
        for (int64_t c = 0; c < w; ++c) {
            Scalar* row = pe + (r * w + c) * D;                               // token n = r*w + c
            for (int64_t k = 0; k < half; ++k) {
                row[k] = rows.data()[r * half + k];                           // channels [0, D/2): the row r
                row[half + k] = cols.data()[c * half + k];                    // channels [D/2, D): the column c
            }
        }
    }
    return table;
}

// A fixed (N, D) grid table as the (1, [1+]N, D) buffer: the CLS row, if any, is zero.
static Tensor with_cls_row(const Tensor& grid, bool cls_token) {
    const int64_t N = grid.size(0), D = grid.size(1);
    const int64_t offset = cls_token ? 1 : 0;
    Tensor table = Tensor::zeros({1, offset + N, D});                         // (1, [1+]N, D)
    for (int64_t i = 0; i < N * D; ++i) table.data()[offset * D + i] = grid.data()[i];
    return table;
}

PositionEmbedding::PositionEmbedding(PositionEmbeddingKind kind, int64_t grid_h, int64_t grid_w, int64_t dim,
                                     bool cls_token, Rng& rng)
    : kind_(kind), grid_h_(grid_h), grid_w_(grid_w), dim_(dim), cls_token_(cls_token) {
    check(grid_h > 0 && grid_w > 0 && dim > 0, "PositionEmbedding: grid ", grid_h, " x ", grid_w, " and dim ", dim,
          " must be positive");
    const int64_t N = grid_h * grid_w;
    switch (kind) {
        case PositionEmbeddingKind::learned_1d:
            pos_embed = register_parameter("pos_embed", trunc_normal({1, num_tokens(), dim}, 0.02, rng));
            break;
        case PositionEmbeddingKind::learned_2d:
            row_embed = register_parameter("row_embed", trunc_normal({grid_h, dim}, 0.02, rng));
            col_embed = register_parameter("col_embed", trunc_normal({grid_w, dim}, 0.02, rng));
            break;
        case PositionEmbeddingKind::sincos_1d:
            check(dim % 2 == 0, "PositionEmbedding: sincos_1d needs an even dim, got ", dim);
            pos_embed = register_buffer("pos_embed", with_cls_row(sincos_1d_table(N, dim), cls_token));
            break;
        case PositionEmbeddingKind::sincos_2d:
            check(dim % 4 == 0, "PositionEmbedding: sincos_2d needs dim divisible by 4, got ", dim);
            pos_embed = register_buffer("pos_embed", with_cls_row(sincos_2d_table(grid_h, grid_w, dim), cls_token));
            break;
    }
}

Tensor PositionEmbedding::table() const {
    if (kind_ != PositionEmbeddingKind::learned_2d) return pos_embed;        // (1, [1+]N, D)
    const int64_t h = grid_h_, w = grid_w_, D = dim_;
    Tensor grid = reshape(row_embed, {h, 1, D}) + reshape(col_embed, {1, w, D});  // (h, w, D): row[r] + col[c]
    grid = reshape(grid, {1, h * w, D});                                      // (1, N, D), n = r*w + c
    if (!cls_token_) return grid;
    return concat({Tensor::zeros({1, 1, D}), grid}, 1);                       // (1, 1+N, D), CLS row zero
}

Tensor PositionEmbedding::forward(const Tensor& x) const {
    check(x.defined() && x.dim() == 3 && x.size(1) == num_tokens() && x.size(2) == dim_, "PositionEmbedding (",
          to_string(kind_), "): tokens ", x.defined() ? x.shape() : Shape{}, ", expected (B, ", num_tokens(), ", ",
          dim_, ") (", grid_h_ * grid_w_, " patches", cls_token_ ? " + 1 CLS token" : "", ")");
    return x + table();                                                       // (B, [1+]N, D) + (1, [1+]N, D)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
