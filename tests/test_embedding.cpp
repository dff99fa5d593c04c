// Embeddings (nn/embedding.h): patchify, PatchEmbedding (against a convolution written as loops), the
// CLS token, the sin-cos tables and PositionEmbedding in its four kinds.
#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "nn/embedding.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }

void fill_uniform(Tensor t, uint64_t seed, Scalar low = -1, Scalar high = 1) {
    Rng rng(seed);
    for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = static_cast<Scalar>(rng.uniform(low, high));
}

std::vector<std::string> parameter_names(const Module& m) {
    std::vector<std::string> names;
    for (const auto& [name, tensor] : m.named_parameters()) names.push_back(name);
    return names;
}

}  // namespace

// ---- patchify -------------------------------------------------------------------------------------------

TEST_CASE("patchify: a 1x1x4x4 image in 2x2 patches, by hand") {
    // The image       0  1 |  2  3        patch 0 = (0, 1, 4, 5)     patch 1 = (2, 3, 6, 7)
    //                 4  5 |  6  7
    //                 -----+------
    //                 8  9 | 10 11        patch 2 = (8, 9, 12, 13)   patch 3 = (10, 11, 14, 15)
    //                12 13 | 14 15        numbered row by row; each read row by row inside
    check_values(patchify(iota({1, 1, 4, 4}), 2), {1, 4, 4},
                 {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15}, 0);
    // Two channels of a 2x2 image, P = 2: one patch, channel 0's four pixels then channel 1's, (C, P, P) order
    check_values(patchify(iota({1, 2, 2, 2}), 2), {1, 1, 8}, {0, 1, 2, 3, 4, 5, 6, 7}, 0);
}

TEST_CASE("patchify follows out[b, i*w + j, (c*P + u)*P + v] = images[b, c, i*P + u, j*P + v]") {
    const int64_t B = 2, C = 3, Hi = 6, Wi = 4, P = 2, h = 3, w = 2;  // a grid that is not square
    const Tensor images = random_tensor({B, C, Hi, Wi}, 1, false);
    const Tensor out = patchify(images, P);
    REQUIRE(out.shape() == Shape{B, h * w, C * P * P});
    const auto img = [&](int64_t b, int64_t c, int64_t y, int64_t x) {
        return images.data()[((b * C + c) * Hi + y) * Wi + x];
    };
    for (int64_t b = 0; b < B; ++b)
        for (int64_t i = 0; i < h; ++i)
            for (int64_t j = 0; j < w; ++j)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t u = 0; u < P; ++u)
                        for (int64_t v = 0; v < P; ++v)
                            CHECK(out.data()[(b * h * w + i * w + j) * C * P * P + (c * P + u) * P + v] ==
                                  img(b, c, i * P + u, j * P + v));
}

TEST_CASE("the pitfall: patchify by reshape alone has the right shape and the wrong numbers") {
    const Tensor images = iota({1, 1, 4, 4});
    const Tensor wrong = reshape(images, {1, 4, 4});   // (B, C, H, W) -> (B, N, C*P*P) without the permute
    const Tensor right = patchify(images, 2);
    CHECK(wrong.shape() == right.shape());
    CHECK(wrong.to_vector() != right.to_vector());
    // reshape's "patch 0" is the first image ROW (0, 1, 2, 3), not the top-left square (0, 1, 4, 5).
    check_values(slice(wrong, 1, 0, 1), {1, 1, 4}, {0, 1, 2, 3}, 0);
    check_values(slice(right, 1, 0, 1), {1, 1, 4}, {0, 1, 4, 5}, 0);
    // With channels the damage is worse: the permute also moves C inside the patch.
    const Tensor rgb = random_tensor({2, 3, 4, 4}, 2, false);
    CHECK(reshape(rgb, {2, 4, 12}).to_vector() != patchify(rgb, 2).to_vector());
}

TEST_CASE("patchify: gradient checks") {
    check_gradients([](const std::vector<Tensor>& in) { return patchify(in[0], 2); }, {random_tensor({1, 1, 4, 4}, 3)});
    check_gradients([](const std::vector<Tensor>& in) { return patchify(in[0], 3); }, {random_tensor({2, 2, 3, 6}, 4)});
}

TEST_CASE("patchify: sizes not divisible by P and non-images are refused, naming the shape") {
    const std::string message = thrown_message([] { patchify(Tensor::ones({1, 1, 5, 4}), 2); });
    CHECK(contains(message, "(1, 1, 5, 4)"));
    CHECK(contains(message, "patch size 2"));
    CHECK(contains(thrown_message([] { patchify(Tensor::ones({1, 4, 4}), 2); }), "(1, 4, 4)"));
    CHECK(contains(thrown_message([] { patchify(Tensor::ones({1, 1, 4, 4}), 0); }), "patch size 0"));
}

// ---- PatchEmbedding -------------------------------------------------------------------------------------

TEST_CASE("PatchEmbedding: timm's parameter names and Conv2d layouts") {
    Rng rng(0);
    PatchEmbedding embed(3, 2, 5, 8, rng);
    CHECK(parameter_names(embed) == std::vector<std::string>{"proj.weight", "proj.bias"});
    CHECK(embed.proj.weight.shape() == Shape{5, 3, 2, 2});  // (D, C, P, P)
    CHECK(embed.proj.bias.shape() == Shape{5});
    CHECK(embed.grid_size() == 4);
    CHECK(embed.num_patches() == 16);
    for (Scalar w : embed.proj.weight.to_vector()) CHECK(std::abs(w) <= 0.04);  // trunc normal std 0.02
    CHECK(embed.proj.bias.to_vector() == std::vector<Scalar>(5, 0));
}

TEST_CASE("THE KEY TEST: PatchEmbedding equals a stride-P PxP convolution computed with loops") {
    const int64_t B = 2, C = 3, S = 6, P = 3, D = 4, g = S / P;
    Rng rng(1);
    PatchEmbedding embed(C, P, D, S, rng);
    fill_uniform(embed.proj.weight, 2);
    fill_uniform(embed.proj.bias, 3);
    const Tensor images = random_tensor({B, C, S, S}, 4, false);
    const Tensor tokens = embed.forward(images);
    REQUIRE(tokens.shape() == Shape{B, g * g, D});
    const Scalar* wd = embed.proj.weight.data();
    const Scalar* img = images.data();
    // conv[b, d, i, j] = bias[d] + sum_{c,u,v} w[d, c, u, v] * img[b, c, i*P + u, j*P + v], and token
    // i*g + j of image b holds the D channels conv[b, :, i, j] (timm: flatten(2).transpose(1, 2)).
    for (int64_t b = 0; b < B; ++b)
        for (int64_t d = 0; d < D; ++d)
            for (int64_t i = 0; i < g; ++i)
                for (int64_t j = 0; j < g; ++j) {
                    double conv = embed.proj.bias.data()[d];
                    for (int64_t c = 0; c < C; ++c)
                        for (int64_t u = 0; u < P; ++u)
                            for (int64_t v = 0; v < P; ++v)
                                conv += wd[((d * C + c) * P + u) * P + v] *
                                        img[((b * C + c) * S + i * P + u) * S + j * P + v];
                    CHECK(std::abs(tokens.data()[(b * g * g + i * g + j) * D + d] - conv) < 1e-12);
                }
}

TEST_CASE("PatchEmbedding: gradient checks of the images, proj.weight and proj.bias") {
    Rng rng(5);
    for (const auto& sizes : std::vector<std::array<int64_t, 3>>{{1, 4, 2}, {2, 6, 3}}) {
        const int64_t C = sizes[0], S = sizes[1], P = sizes[2];  // (clang < 16 cannot capture a structured binding)
        CAPTURE(C);
        PatchEmbedding embed(C, P, 3, S, rng);
        fill_uniform(embed.proj.bias, 6);
        check_gradients([&](const std::vector<Tensor>& in) { return embed.forward(in[0]); },
                        {random_tensor({2, C, S, S}, 7), embed.proj.weight, embed.proj.bias});
    }
}

TEST_CASE("PatchEmbedding: bad arguments and images of the wrong shape name the values") {
    Rng rng(0);
    CHECK(contains(thrown_message([&] { PatchEmbedding(3, 3, 8, 32, rng); }), "image_size 32 is not divisible by patch 3"));
    CHECK(contains(thrown_message([&] { PatchEmbedding(0, 4, 8, 32, rng); }), "in_channels 0"));
    PatchEmbedding embed(3, 4, 8, 32, rng);
    const std::string message = thrown_message([&] { embed.forward(Tensor::ones({2, 1, 32, 32})); });
    CHECK(contains(message, "(2, 1, 32, 32)"));
    CHECK(contains(message, "(B, 3, 32, 32)"));
    CHECK(contains(thrown_message([&] { embed.forward(Tensor::ones({2, 3, 28, 28})); }), "(2, 3, 28, 28)"));
}

// ---- the CLS token --------------------------------------------------------------------------------------

TEST_CASE("prepend_cls: one copy of the CLS token in front of each sequence; its gradient sums the copies") {
    const Tensor tokens = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {2, 2, 2}).requires_grad_();
    const Tensor cls = Tensor::from_vector({-1, -2}, {1, 1, 2}).requires_grad_();
    const Tensor out = prepend_cls(tokens, cls);
    check_values(out, {2, 3, 2}, {-1, -2, 1, 2, 3, 4, /**/ -1, -2, 5, 6, 7, 8}, 0);
    // With probe p, d cls = p[0, 0, :] + p[1, 0, :]
    const Tensor probe = Tensor::from_vector({1, 2, 0, 0, 0, 0, 10, 20, 0, 0, 0, 0}, {2, 3, 2});
    sum(out * probe).backward();
    check_values(cls.grad(), {1, 1, 2}, {11, 22}, 0);
    check_gradients([](const std::vector<Tensor>& in) { return prepend_cls(in[0], in[1]); },
                    {random_tensor({3, 4, 5}, 1), random_tensor({1, 1, 5}, 2)});
    const std::string message = thrown_message([] { prepend_cls(Tensor::ones({2, 4, 5}), Tensor::ones({1, 1, 4})); });
    CHECK(contains(message, "(2, 4, 5)"));
    CHECK(contains(message, "(1, 1, 4)"));
}

// ---- sin-cos tables -------------------------------------------------------------------------------------

TEST_CASE("sincos_1d_table: Vaswani's values by hand") {
    // D = 4: pair i = 0 has frequency 1 / 10000^0 = 1, pair i = 1 has 1 / 10000^(2/4) = 1/100.
    //   t = 0: (sin 0, cos 0, sin 0, cos 0) = (0, 1, 0, 1)
    //   t = 1: (sin 1, cos 1, sin 0.01, cos 0.01)
    //   t = 2: (sin 2, cos 2, sin 0.02, cos 0.02)
    check_values(sincos_1d_table(3, 4), {3, 4},
                 {0, 1, 0, 1, std::sin(1.0), std::cos(1.0), std::sin(0.01), std::cos(0.01), std::sin(2.0),
                  std::cos(2.0), std::sin(0.02), std::cos(0.02)},
                 1e-15);
    // Each (sin, cos) pair lies on the unit circle.
    const Tensor t = sincos_1d_table(7, 8);
    for (int64_t k = 0; k < 7 * 4; ++k) {
        const double s = t.data()[2 * k], c = t.data()[2 * k + 1];
        CHECK(std::abs(s * s + c * c - 1) < 1e-12);
    }
    CHECK(contains(thrown_message([] { sincos_1d_table(3, 5); }), "D 5"));
}

TEST_CASE("sincos_2d_table: row half and column half, each a 1D table of D/2") {
    const int64_t h = 2, w = 3, D = 8;
    const Tensor table = sincos_2d_table(h, w, D);
    REQUIRE(table.shape() == Shape{h * w, D});
    const Tensor rows = sincos_1d_table(h, D / 2), cols = sincos_1d_table(w, D / 2);
    for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c)
            for (int64_t k = 0; k < D / 2; ++k) {
                CHECK(table.data()[(r * w + c) * D + k] == rows.data()[r * (D / 2) + k]);
                CHECK(table.data()[(r * w + c) * D + D / 2 + k] == cols.data()[c * (D / 2) + k]);
            }
    // Token 4 = (row 1, column 1) with D = 8: (sin 1, cos 1, sin .01, cos .01 | the same for column 1)
    check_values(slice(table, 0, 4, 5), {1, D},
                 {std::sin(1.0), std::cos(1.0), std::sin(0.01), std::cos(0.01), std::sin(1.0), std::cos(1.0),
                  std::sin(0.01), std::cos(0.01)},
                 1e-15);
    // Token 0 (the corner) is all (0, 1) pairs.
    check_values(slice(table, 0, 0, 1), {1, D}, {0, 1, 0, 1, 0, 1, 0, 1}, 0);
    CHECK(contains(thrown_message([] { sincos_2d_table(2, 2, 6); }), "D 6 must be divisible by 4"));
}

// ---- PositionEmbedding ----------------------------------------------------------------------------------

TEST_CASE("PositionEmbedding learned_1d: pos_embed covers the CLS position, as in timm") {
    Rng rng(0);
    PositionEmbedding with_cls(PositionEmbeddingKind::learned_1d, 2, 3, 4, true, rng);
    CHECK(parameter_names(with_cls) == std::vector<std::string>{"pos_embed"});
    CHECK(with_cls.pos_embed.shape() == Shape{1, 7, 4});  // (1, 1 + N, D)
    CHECK(with_cls.named_buffers().empty());
    for (Scalar v : with_cls.pos_embed.to_vector()) CHECK(std::abs(v) <= 0.04);
    PositionEmbedding without(PositionEmbeddingKind::learned_1d, 2, 3, 4, false, rng);
    CHECK(without.pos_embed.shape() == Shape{1, 6, 4});   // (1, N, D)

    const Tensor x = random_tensor({2, 7, 4}, 1, false);
    check_close(with_cls.forward(x), x + with_cls.pos_embed);
    check_gradients([&](const std::vector<Tensor>& in) { return with_cls.forward(in[0]); },
                    {random_tensor({2, 7, 4}, 2), with_cls.pos_embed});
    check_gradients([&](const std::vector<Tensor>& in) { return without.forward(in[0]); },
                    {random_tensor({3, 6, 4}, 3), without.pos_embed});
}

TEST_CASE("PositionEmbedding learned_2d: row[r] + col[c], the CLS row zero; gradient checks") {
    Rng rng(1);
    const int64_t h = 2, w = 3, D = 4;
    PositionEmbedding pos(PositionEmbeddingKind::learned_2d, h, w, D, true, rng);
    CHECK(parameter_names(pos) == std::vector<std::string>{"row_embed", "col_embed"});
    CHECK(pos.row_embed.shape() == Shape{h, D});
    CHECK(pos.col_embed.shape() == Shape{w, D});
    CHECK(pos.parameter_count() == (h + w) * D);  // 20, against 28 for learned_1d with CLS
    const Tensor table = pos.table();
    REQUIRE(table.shape() == Shape{1, 1 + h * w, D});
    for (int64_t k = 0; k < D; ++k) CHECK(table.data()[k] == 0);  // CLS
    for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c)
            for (int64_t k = 0; k < D; ++k)
                CHECK(table.data()[(1 + r * w + c) * D + k] == pos.row_embed.data()[r * D + k] + pos.col_embed.data()[c * D + k]);

    check_gradients([&](const std::vector<Tensor>& in) { return pos.forward(in[0]); },
                    {random_tensor({2, 7, 4}, 2), pos.row_embed, pos.col_embed});
    PositionEmbedding no_cls(PositionEmbeddingKind::learned_2d, 3, 2, 4, false, rng);
    check_gradients([&](const std::vector<Tensor>& in) { return no_cls.forward(in[0]); },
                    {random_tensor({2, 6, 4}, 3), no_cls.row_embed, no_cls.col_embed});
}

TEST_CASE("PositionEmbedding sincos: fixed buffers, no parameters, the CLS row zero") {
    Rng rng(2);
    const int64_t h = 2, w = 3, D = 8, N = h * w;
    PositionEmbedding one_d(PositionEmbeddingKind::sincos_1d, h, w, D, true, rng);
    PositionEmbedding two_d(PositionEmbeddingKind::sincos_2d, h, w, D, true, rng);
    PositionEmbedding two_d_no_cls(PositionEmbeddingKind::sincos_2d, h, w, D, false, rng);
    for (const PositionEmbedding* pos : {&one_d, &two_d, &two_d_no_cls}) {
        CHECK(pos->named_parameters().empty());
        REQUIRE(pos->named_buffers().size() == 1);
        CHECK(pos->named_buffers()[0].first == "pos_embed");
        CHECK_FALSE(pos->pos_embed.requires_grad());
    }
    CHECK(one_d.pos_embed.shape() == Shape{1, 1 + N, D});
    CHECK(two_d_no_cls.pos_embed.shape() == Shape{1, N, D});
    check_close(slice(one_d.pos_embed, 1, 0, 1), Tensor::zeros({1, 1, D}), 0);
    check_close(reshape(slice(one_d.pos_embed, 1, 1, 1 + N), {N, D}), sincos_1d_table(N, D), 0);
    check_close(slice(two_d.pos_embed, 1, 0, 1), Tensor::zeros({1, 1, D}), 0);
    check_close(reshape(slice(two_d.pos_embed, 1, 1, 1 + N), {N, D}), sincos_2d_table(h, w, D), 0);
    check_close(reshape(two_d_no_cls.pos_embed, {N, D}), sincos_2d_table(h, w, D), 0);

    const Tensor x = random_tensor({2, 1 + N, D}, 1, false);
    check_close(two_d.forward(x), x + two_d.pos_embed, 0);
    check_gradients([&](const std::vector<Tensor>& in) { return one_d.forward(in[0]); }, {random_tensor({2, 7, 8}, 2)});
    CHECK(contains(thrown_message([&] { PositionEmbedding(PositionEmbeddingKind::sincos_2d, 2, 2, 6, true, rng); }),
                   "divisible by 4, got 6"));
    CHECK(contains(thrown_message([&] { PositionEmbedding(PositionEmbeddingKind::sincos_1d, 2, 2, 5, true, rng); }),
                   "even dim, got 5"));
}

TEST_CASE("PositionEmbedding: a sequence without its CLS token, or of the wrong width, is refused") {
    Rng rng(3);
    PositionEmbedding pos(PositionEmbeddingKind::learned_1d, 4, 4, 8, true, rng);
    CHECK(pos.num_tokens() == 17);
    // The patch tokens alone (B, N, D), forgotten prepend_cls: 16 tokens where 17 are expected.
    const std::string forgot_cls = thrown_message([&] { pos.forward(Tensor::ones({2, 16, 8})); });
    CHECK(contains(forgot_cls, "(2, 16, 8)"));
    CHECK(contains(forgot_cls, "(B, 17, 8)"));
    CHECK(contains(forgot_cls, "1 CLS token"));
    // A grid-shaped (1, D, h, w) table is not a token sequence either.
    CHECK(contains(thrown_message([&] { pos.forward(Tensor::ones({1, 8, 4, 4})); }), "(1, 8, 4, 4)"));
    CHECK(contains(thrown_message([&] { pos.forward(Tensor::ones({2, 17, 6})); }), "(2, 17, 6)"));
    CHECK(contains(thrown_message([&] { PositionEmbedding(PositionEmbeddingKind::learned_2d, 0, 4, 8, true, rng); }),
                   "grid 0 x 4"));
}
