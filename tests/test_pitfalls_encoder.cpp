// Pitfalls of the transformer encoder, continuing tests/test_pitfalls.cpp: the sequence-first reading of
// a (B, N, D) batch, heads cut out of the embedding before the projection, and a mean over tokens that
// include a CLS token. Each is built here from patchgrad's own layers and ops, next to the right version,
// with assertions on exactly how the two differ. docs/pitfalls.md, sections (h) to (j), explains them.
//
// Legend: B batch, N patches, T tokens, D or C the embedding width, H heads, Dh = C / H the head size,
// F the MLP's hidden width, K classes.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "nn/vit.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {


Tensor probed(const Tensor& out, uint64_t seed) { return sum(out * random_tensor(out.shape(), seed, false)); }

// Image b of a (B, T, D) batch, or token t of it: (1, T, D) and (1, 1, D).
Tensor image(const Tensor& x, int64_t b) { return slice(x, 0, b, b + 1); }
Tensor token(const Tensor& x, int64_t b, int64_t t) { return slice(image(x, b), 1, t, t + 1); }

// Weights of std 0.4 instead of the initial 0.02, so that attention is not uniform and every effect below
// is far above rounding.
void sharpen(const Module& module) {
    for (auto [name, tensor] : module.named_parameters())  // tensor: a handle on the parameter itself
        if (tensor.dim() == 2)
            for (int64_t i = 0; i < tensor.numel(); ++i) tensor.data()[i] *= 20;
}

}  // namespace

// ---- (h) (B, N, D) into a layer that reads (N, B, D); post-LN and ReLU ---------------------------------

TEST_CASE("pitfall (h): a sequence-first layer fed (B, N, D) attends across the batch, not across the image") {
    const int64_t B = 3, N = 4, D = 8;
    Rng rng(21);
    MultiHeadSelfAttention attn(D, 2, rng);
    sharpen(attn);
    const Tensor x = random_tensor({B, N, D}, 22, false);
    // patchgrad's layer reads (B, T, D). nn.TransformerEncoderLayer without batch_first=True reads (T, B, D):
    // handed (B, N, D), it takes the batch for the sequence and the tokens for the batch. Written with the
    // same layer: swap the two axes, attend, swap back.
    const auto right = [&](const Tensor& t) { return attn.forward(t, rng); };
    const auto wrong = [&](const Tensor& t) { return transpose(attn.forward(transpose(t, 0, 1), rng), 0, 1); };

    // 1. Images are independent in the right reading; in the wrong one, changing image 1 changes image 0.
    Tensor other_image_1 = x.clone();
    for (int64_t i = N * D; i < 2 * N * D; ++i) other_image_1.data()[i] += Scalar(i % 3 ? 0.7 : -1.1);
    CHECK(max_abs_difference(image(right(x), 0), image(right(other_image_1), 0)) == 0);
    CHECK(max_abs_difference(image(wrong(x), 0), image(wrong(other_image_1), 0)) > 1e-2);

    // 2. Inside one image, token 0 sees token 2 in the right reading and never in the wrong one: token 0 of
    //    image 0 attends to token 0 of images 0, 1 and 2, and to nothing else.
    Tensor other_token_2 = x.clone();
    for (int64_t d = 0; d < D; ++d) other_token_2.data()[2 * D + d] += Scalar(d % 2 ? 0.9 : -0.6);
    CHECK(max_abs_difference(token(right(x), 0, 0), token(right(other_token_2), 0, 0)) > 1e-2);
    CHECK(max_abs_difference(token(wrong(x), 0, 0), token(wrong(other_token_2), 0, 0)) == 0);

    // 3. At batch size 1 (inference on one image) the wrong reading has one "token" per sequence: every
    //    softmax is over a single score, so each token just gets proj(v(itself)) and attention does nothing.
    const Tensor one = image(x, 0);
    const Tensor v = linear(one, slice(attn.qkv.weight, 0, 2 * D, 3 * D), slice(attn.qkv.bias, 0, 2 * D, 3 * D));
    check_close(wrong(one), attn.proj.forward(v), 1e-12);
    CHECK(max_abs_difference(right(one), attn.proj.forward(v)) > 1e-2);
    // ... so the same image gets another output depending on which images share its batch.
    CHECK(max_abs_difference(wrong(one), image(wrong(x), 0)) > 1e-2);
}

namespace {

// The block with the same weights, the normalisation placed before (pre-LN, the ViT's and patchgrad's) or
// after (post-LN, nn.TransformerEncoderLayer's default norm_first=False) each residual branch, and the MLP's
// activation GELU (the ViT's) or ReLU (the PyTorch layer's default).
Tensor encoder_block(const TransformerEncoderBlock& block, const Tensor& x, bool norm_first, bool use_gelu,
                     Rng& rng) {
    const auto mlp = [&](const Tensor& t) {
        const Tensor hidden = block.mlp.fc1.forward(t);                       // (B, T, F)
        return block.mlp.fc2.forward(use_gelu ? gelu(hidden) : relu(hidden));  // (B, T, D)
    };
    if (norm_first) {
        const Tensor h = x + block.attn.forward(block.norm1.forward(x), rng);  // x + MSA(LN1(x))
        return h + mlp(block.norm2.forward(h));                                 // h + MLP(LN2(h))
    }
    const Tensor h = block.norm1.forward(x + block.attn.forward(x, rng));     // LN1(x + MSA(x))
    return block.norm2.forward(h + mlp(h));                                    // LN2(h + MLP(h))
}

}  // namespace

TEST_CASE("pitfall (h): nn.TransformerEncoderLayer's defaults are post-LN and ReLU, the ViT is pre-LN and GELU") {
    const int64_t B = 2, T = 5, D = 8, F = 16;
    Rng rng(23);
    TransformerEncoderBlock block(D, 2, F, 1e-5, 0.0, rng);
    sharpen(block);
    const Tensor x = random_tensor({B, T, D}, 24, false) * Scalar(3);  // a residual stream of std ~1.7

    const Tensor pre_gelu = encoder_block(block, x, true, true, rng);
    check_close(pre_gelu, block.forward(x, rng), 1e-12);  // the replica is patchgrad's block
    const Tensor post_gelu = encoder_block(block, x, false, true, rng);
    const Tensor post_relu = encoder_block(block, x, false, false, rng);  // the PyTorch layer's defaults
    CHECK(max_abs_difference(pre_gelu, post_gelu) > 0.5);   // where the norm sits changes the function
    CHECK(max_abs_difference(post_gelu, post_relu) > 1e-2);  // and so does the activation

    // Post-LN ends in a LayerNorm (weight 1, bias 0 here): every token comes out with mean 0 and variance
    // 1, whatever came in. Pre-LN leaves the residual stream x + ... unnormalised: its scale passes through.
    for (int64_t i = 0; i < B * T; ++i) {
        double m = 0, var = 0;
        for (int64_t d = 0; d < D; ++d) m += post_relu.data()[i * D + d] / double(D);
        for (int64_t d = 0; d < D; ++d) var += std::pow(post_relu.data()[i * D + d] - m, 2) / double(D);
        CHECK(std::abs(m) < 1e-12);
        CHECK(std::abs(var - 1) < 1e-3);
    }
    const double normalised = std::sqrt(double(B * T * D));  // the length of B*T tokens of variance 1
    CHECK(std::abs(norm(post_relu) - normalised) < 1e-3 * normalised);
    const Tensor pre_scaled = encoder_block(block, x * Scalar(100), true, true, rng);
    const Tensor post_scaled = encoder_block(block, x * Scalar(100), false, false, rng);
    CHECK(norm(pre_scaled) > 20 * norm(pre_gelu));  // the stream grew with its input
    CHECK(std::abs(norm(post_scaled) - normalised) < 1e-3 * normalised);

    // ReLU and GELU by hand: relu(1) = 1, gelu(1) = 1 * Phi(1) = 0.841345; relu(-0.5) = 0,
    // gelu(-0.5) = -0.5 * Phi(-0.5) = -0.5 * 0.308538 = -0.154269.
    const Tensor points = Tensor::from_vector({1, -0.5}, {2});
    check_values(relu(points), {2}, {1, 0}, 0);
    check_values(gelu(points), {2}, {0.841345, -0.154269}, 1e-6);
}

// ---- (i) the embedding split among heads before the projection -----------------------------------------

TEST_CASE("pitfall (i): heads cut from the embedding before projecting see only their slice of the features") {
    const int64_t B = 1, T = 5, C = 8, H = 2, Dh = C / H;
    Rng rng(31);
    MultiHeadSelfAttention attn(C, H, rng);
    sharpen(attn);
    Tensor x = random_tensor({B, T, C}, 32);
    const auto rows = [&](const Tensor& t, int64_t start, int64_t count) { return slice(t, 0, start, start + count); };
    // The weights as constants (detach: the same numbers, no graph): only x's gradient is wanted below.
    const Tensor w_q = rows(attn.qkv.weight.detach(), 0, C), b_q = rows(attn.qkv.bias.detach(), 0, C);  // (C, C), (C)

    // Right: project all C features, then cut the result into heads: head h is channels [h*Dh, (h+1)*Dh).
    const auto right_query = [&](int64_t h) { return slice(linear(x, w_q, b_q), -1, h * Dh, (h + 1) * Dh); };
    // Wrong: cut x into heads first, then give each head its own (Dh, Dh) projection of its slice. (The
    // tutorial's per-head weights are here the diagonal block of w_q, so the two differ only by the cut.)
    const auto wrong_query = [&](int64_t h) {
        const Tensor w_h = slice(rows(w_q, h * Dh, Dh), 1, h * Dh, (h + 1) * Dh);  // (Dh, Dh)
        return linear(slice(x, -1, h * Dh, (h + 1) * Dh), w_h, rows(b_q, h * Dh, Dh));
    };
    // The gradient of head h's queries with respect to x: nonzero outside slice h only in the right one.
    for (int64_t h = 0; h < H; ++h) {
        for (const bool right : {true, false}) {
            x.zero_grad();
            probed(right ? right_query(h) : wrong_query(h), 33).backward();
            double inside = 0, outside = 0;
            for (int64_t i = 0; i < x.numel(); ++i) {
                const int64_t c = i % C;
                (c / Dh == h ? inside : outside) += std::pow(x.grad().data()[i], 2);
            }
            CAPTURE(h);
            CAPTURE(right);
            CHECK(inside > 1e-2);
            if (right) CHECK(outside > 1e-2);
            if (!right) CHECK(outside == 0);  // exactly: the other features never enter head h
        }
    }

    // The whole wrong layer, written out: slice, project per head, attend, put the heads side by side.
    const auto wrong_layer = [&](const Tensor& input) {
        std::vector<Tensor> heads;
        for (int64_t h = 0; h < H; ++h) {
            const Tensor part = slice(input, -1, h * Dh, (h + 1) * Dh);  // (B, T, Dh): features of head h only
            std::vector<Tensor> qkv;
            for (int64_t which = 0; which < 3; ++which) {               // q, k, v
                const int64_t first = which * C + h * Dh;
                const Tensor w = slice(rows(attn.qkv.weight, first, Dh), 1, h * Dh, (h + 1) * Dh);  // (Dh, Dh)
                qkv.push_back(reshape(linear(part, w, rows(attn.qkv.bias, first, Dh)), {B, 1, T, Dh}));
            }
            const Scalar scale = Scalar(1 / std::sqrt(double(Dh)));
            heads.push_back(reshape(scaled_dot_product_attention(qkv[0], qkv[1], qkv[2], Tensor(), scale), {B, T, Dh}));
        }
        return attn.proj.forward(concat(heads, -1));                   // (B, T, C)
    };
    // It is the right layer with every qkv weight outside the heads' diagonal (Dh, Dh) blocks forced to 0:
    // (H - 1) / H of the weights gone, and no head mixes features from another slice.
    Rng unused(34);
    MultiHeadSelfAttention block_diagonal(C, H, unused);
    for (size_t p = 0; p < attn.named_parameters().size(); ++p) {
        Tensor from = attn.named_parameters()[p].second, to = block_diagonal.named_parameters()[p].second;
        std::copy(from.data(), from.data() + from.numel(), to.data());
    }
    int64_t zeroed = 0;
    for (int64_t row = 0; row < 3 * C; ++row)
        for (int64_t c = 0; c < C; ++c)
            if ((row % C) / Dh != c / Dh) {
                block_diagonal.qkv.weight.data()[row * C + c] = 0;
                ++zeroed;
            }
    CHECK(zeroed == 3 * C * C / 2);  // H = 2: half of the 3C x C weights
    const Tensor input = x.detach();
    check_close(wrong_layer(input), block_diagonal.forward(input, rng), 1e-12);

    // Head 0's attention pattern: changing the features of slice 1 moves it in the right layer, and leaves
    // it exactly as it was in the wrong one.
    Tensor moved = input.clone();
    for (int64_t i = 0; i < moved.numel(); ++i)
        if (i % C >= Dh) moved.data()[i] += Scalar(i % 2 ? 0.8 : -0.5);
    const auto head_0_pattern = [&](const MultiHeadSelfAttention& layer, const Tensor& in) {
        Tensor weights;
        layer.forward(in, rng, Tensor(), &weights);       // (B, H, T, T)
        return slice(weights, 1, 0, 1);                   // (B, 1, T, T)
    };
    CHECK(max_abs_difference(head_0_pattern(attn, input), head_0_pattern(attn, moved)) > 1e-2);
    CHECK(max_abs_difference(head_0_pattern(block_diagonal, input), head_0_pattern(block_diagonal, moved)) == 0);
}

// ---- (j) mean pooling over every token, a CLS token among them ---------------------------------------------

namespace {

// VisionTransformer::forward (nn/vit.cpp) up to the final norm, written with the model's own layers:
// (B, C, S, S) -> (B, T, D), the tokens the head pools from.
Tensor encode(const VisionTransformer& vit, const Tensor& images, Rng& rng) {
    Tensor x = vit.patch_embed.forward(images);                            // (B, N, D)
    if (vit.config().pooling == Pooling::cls) x = prepend_cls(x, vit.cls_token);  // (B, 1+N, D)
    x = vit.position.forward(x);                                           // (B, T, D)
    for (size_t i = 0; i < vit.blocks.size(); ++i) x = vit.blocks[i].forward(x, rng);
    return vit.norm.forward(x);                                            // (B, T, D)
}

}  // namespace

TEST_CASE("pitfall (j): a mean over all tokens, CLS included, makes the CLS token one more patch") {
    ViTConfig config;
    config.image_size = 8, config.in_channels = 1, config.patch_size = 4, config.dim = 8, config.depth = 1;
    config.heads = 2, config.mlp_dim = 16, config.num_classes = 3, config.pooling = Pooling::cls;
    const int64_t B = 2, N = 4, T = 1 + N, D = config.dim;
    Rng rng(41);
    VisionTransformer vit(config, rng);
    sharpen(vit);
    const Tensor images = random_tensor({B, 1, 8, 8}, 42, false);
    Tensor tokens = encode(vit, images, rng).detach().requires_grad_();  // (B, 1+N, D)
    REQUIRE(tokens.shape() == Shape{B, T, D});

    // Three heads on the same tokens: the CLS token's output (right choice 1, what vit.forward does), the
    // tutorial's mean over all 1+N tokens, and the mean over the N patch tokens (timm's global_pool='avg'
    // skips the CLS token the same way).
    const Tensor cls_logits = vit.head.forward(reshape(slice(tokens, 1, 0, 1), {B, D}));
    const Tensor wrong_pooled = mean(tokens, 1);                                  // (B, D)
    const Tensor patch_mean = mean(slice(tokens, 1, 1, T), 1);                    // (B, D)
    check_close(cls_logits, vit.forward(images, rng), 1e-12);  // the replica is the model
    const Tensor wrong_logits = vit.head.forward(wrong_pooled);
    CHECK(max_abs_difference(wrong_logits, cls_logits) > 1e-2);
    CHECK(max_abs_difference(wrong_logits, vit.head.forward(patch_mean)) > 1e-2);
    // What the tutorial computes: (cls + N * patch_mean) / (N + 1). The CLS token counts as much as one
    // patch, 1/5 here, and the patches' average is shrunk by N / (N + 1).
    check_close(wrong_pooled, (reshape(slice(tokens, 1, 0, 1), {B, D}) + patch_mean * Scalar(N)) / Scalar(N + 1),
                1e-12);

    // The gradient the head sends back to each output token: all of it to token 0 with a CLS head; 1/(N+1)
    // of the same vector to every token, CLS included, with the tutorial's mean; 1/N to each patch token,
    // nothing to a CLS token, with the patch mean.
    const auto token_gradients = [&](const Tensor& logits) {
        tokens.zero_grad();
        probed(logits, 43).backward();
        return tokens.grad().clone();  // (B, T, D)
    };
    const Tensor to_cls = token_gradients(cls_logits);
    const Tensor to_all = token_gradients(wrong_logits);
    const Tensor to_patches = token_gradients(vit.head.forward(patch_mean));
    const Tensor full = token(to_cls, 0, 0);  // (1, 1, D): the head's whole gradient for image 0
    CHECK(norm(full) > 1e-2);
    for (int64_t t = 1; t < T; ++t) CHECK(norm(token(to_cls, 0, t)) == 0);
    for (int64_t t = 0; t < T; ++t) check_close(token(to_all, 0, t), full / Scalar(N + 1), 1e-12);
    CHECK(norm(token(to_patches, 0, 0)) == 0);
    for (int64_t t = 1; t < T; ++t) check_close(token(to_patches, 0, t), full / Scalar(N), 1e-12);

    // Right choice 2, patchgrad's Pooling::mean: no CLS token at all, T = N, and the head reads the mean.
    ViTConfig mean_config = config;
    mean_config.pooling = Pooling::mean;
    Rng mean_rng(44);
    VisionTransformer mean_vit(mean_config, mean_rng);
    CHECK_FALSE(mean_vit.cls_token.defined());
    for (const auto& [name, tensor] : mean_vit.named_parameters()) CHECK(name != "cls_token");
    const Tensor mean_tokens = encode(mean_vit, images, rng);
    REQUIRE(mean_tokens.shape() == Shape{B, N, D});
    check_close(mean_vit.forward(images, rng), mean_vit.head.forward(mean(mean_tokens, 1)), 1e-12);
}
