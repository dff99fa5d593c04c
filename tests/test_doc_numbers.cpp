// The worked numbers of the chapters, recomputed in float64: parameter counts part by part, FLOP and memory
// counts, and the identities a derivation states. When a chapter's number and the code part ways, one of
// these fails and names the chapter.
#include <cmath>
#include <map>
#include <string>

#include "core/ops.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "optim/schedule.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// The parameters of a module summed by the first `depth` parts of their dotted names:
// depth 1 gives {"blocks": ..., "head": ...}, depth 2 {"blocks.0": ..., "head.weight": ...}.
std::map<std::string, int64_t> count_by_prefix(const Module& module, int depth) {
    std::map<std::string, int64_t> counts;
    for (const auto& [name, tensor] : module.named_parameters()) {
        size_t end = 0;
        for (int d = 0; d < depth && end != std::string::npos; ++d) end = name.find('.', end == 0 ? 0 : end + 1);
        counts[name.substr(0, end)] += tensor.numel();
    }
    return counts;
}

}  // namespace

TEST_CASE("doc numbers: models.md counts the reference ViT's 811,146 parameters part by part") {
    Rng rng(0);
    const VisionTransformer vit(ViTConfig{}, rng);
    const std::map<std::string, int64_t> parts = count_by_prefix(vit, 1), blocks = count_by_prefix(vit, 2);
    CHECK(parts.at("patch_embed") == 6272);  // D*C*P*P + D
    CHECK(parts.at("cls_token") == 128);     // D
    CHECK(parts.at("pos_embed") == 8320);    // (N + 1) * D
    CHECK(parts.at("blocks") == 794880);     // 6 * 132,480
    for (int b = 0; b < 6; ++b) CHECK(blocks.at("blocks." + std::to_string(b)) == 132480);
    CHECK(parts.at("norm") == 256);   // 2D
    CHECK(parts.at("head") == 1290);  // K*D + K
    CHECK(vit.parameter_count() == 811146);
    // vit_layers.md: a block's attention holds 4C^2 + 4C, its MLP (Hd = 2C here) 4C^2 + 3C
    const TransformerEncoderBlock& block = vit.blocks[0];
    CHECK(block.attn.parameter_count() == 4 * 128 * 128 + 4 * 128);
    CHECK(block.mlp.parameter_count() == 2 * 128 * 256 + 256 + 128);
}

TEST_CASE("doc numbers: models.md's Swin-T table, block by block and merge by merge") {
    // One block of each stage and one merge (Swin-T's full 28 million take seconds to build): C, heads,
    // grid, and the parameters the table gives.
    struct Stage { int64_t C, heads, grid, block, merge; };
    const Stage stages[] = {{96, 3, 56, 112347, 74496}, {192, 6, 28, 445878, 296448},
                            {384, 12, 14, 1776492, 1182720}, {768, 24, 7, 7091928, 0}};
    Rng rng(0);
    int64_t total = 4896 + 770536;  // the patch embedding, the final norm and the head
    const int64_t depths[] = {2, 2, 6, 2};
    for (int s = 0; s < 4; ++s) {
        const Stage& k = stages[s];
        CAPTURE(s);
        const SwinBlock block(k.C, k.heads, k.grid, k.grid, 7, 0, 4.0, 1e-5, 0.0, rng);
        CHECK(block.parameter_count() == k.block);
        CHECK(block.attn.relative_position_bias_table.shape() == Shape{169, k.heads});  // 13 x 13 offsets
        total += depths[s] * k.block;
        if (k.merge > 0) {
            CHECK(PatchMerging(k.C, k.grid, k.grid, 1e-5, rng).parameter_count() == k.merge);
            total += k.merge;
        }
    }
    CHECK(total == 28288354);
    CHECK(SwinConfig::swin_t().parameter_count() == 28288354);
    CHECK(SwinConfig{}.parameter_count() == 1556902);  // the reference tiny Swin (training.md's table)
    // "Half of them sit in the two blocks of stage 4"; 113 MB in float32
    CHECK(2 * 7091928 > 28288354 / 2);
    CHECK(std::round(28288354 * 4 / 1e6) == 113);
}

TEST_CASE("doc numbers: the FLOP and memory counts of matmul.md, attention.md and swin_windows.md") {
    // matmul.md: the tiny ViT's qkv product at batch 128, M = 8320, K = 128, N = 384
    const double M = 8320, K = 128, N = 384;
    CHECK(std::round(2 * M * N * K / 1e6) == 818);                        // MFLOP
    CHECK(M * K + K * N + M * N == 4308992);                              // numbers: 4.3 million
    CHECK(std::round((M * K + K * N + M * N) * 4 / 1e6) == 17);           // MB of floats
    CHECK(std::round(M * N * K / (M * K + K * N + M * N)) == 95);         // multiply-adds per number
    CHECK(std::round(M * N * 4 / 1e5) == 128);                            // C: 12.8 MB
    // attention.md: B = 128, H = 4, T = 65, D = 32, C = 128
    const double pairs = 128 * 4, T = 65, D = 32, C = 128, rows = 128 * 65;
    CHECK(std::round(pairs * 4 * T * T * D / 1e7) == 28);                 // 0.28 GFLOP forward
    CHECK(std::round(pairs * 8 * T * T * D / 1e7) == 55);                 // 0.55 GFLOP backward
    CHECK(std::round(2 * rows * C * 3 * C / 1e7) == 82);                  // qkv: 0.82 GFLOP
    CHECK(std::round(2 * rows * C * C / 1e7) == 27);                      // proj: 0.27 GFLOP
    CHECK(std::round(pairs * T * T / 1e4) == 216);                        // P: 2.16M floats
    CHECK(std::round(pairs * T * T * 4 / 1e5) == 87);                     // 8.7 MB
    CHECK(128 * 16 * 2 * 16 * 16 == 1048576);                             // Swin's P: 1.05M floats
    CHECK(T * T * 4 == 16900);                                            // one pair's scores: 17 KB
    // swin_windows.md: a 16x16 grid, M = 4, C = 64
    const int64_t hw = 256, Mw = 4, Cw = 64;
    CHECK(4 * hw * Cw * Cw == 4194304);
    CHECK(2 * hw * hw * Cw == 8388608);
    CHECK(2 * Mw * Mw * hw * Cw == 524288);
    CHECK(4 * hw * Cw * Cw + 2 * hw * hw * Cw == 12582912);
    CHECK(4 * hw * Cw * Cw + 2 * Mw * Mw * hw * Cw == 4718592);
}

TEST_CASE("doc numbers: layers_math.md, LayerNorm's two projections, exact only at eps = 0") {
    // dx = rstd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)) gives sum_k dx_k = 0 for every eps, and
    // sum_k dx_k xhat_k = C rstd mean(dxhat xhat) eps / (var + eps): zero only at eps = 0, because
    // mean(xhat^2) = var / (var + eps).
    const int64_t C = 6;
    for (const double eps : {0.0, 1e-5, 0.5}) {
        CAPTURE(eps);
        Tensor x = random_tensor({C}, 3, true, -2, 2);
        const Tensor dout = random_tensor({C}, 4, false);
        const Tensor weight = random_tensor({C}, 5, false, 0.5, 1.5);
        layer_norm(x, weight, Tensor::zeros({C}), eps).backward(dout);
        double mean = 0, var = 0;
        for (int64_t k = 0; k < C; ++k) mean += x.data()[k] / C;
        for (int64_t k = 0; k < C; ++k) var += (x.data()[k] - mean) * (x.data()[k] - mean) / C;
        const double rstd = 1 / std::sqrt(var + eps);
        double sum_dx = 0, sum_dx_xhat = 0, mean_xhat2 = 0, mean_dxhat_xhat = 0;
        for (int64_t k = 0; k < C; ++k) {
            const double xhat = (x.data()[k] - mean) * rstd, dxhat = dout.data()[k] * weight.data()[k];
            sum_dx += x.grad().data()[k];
            sum_dx_xhat += x.grad().data()[k] * xhat;
            mean_xhat2 += xhat * xhat / C;
            mean_dxhat_xhat += dxhat * xhat / C;
        }
        CHECK(std::abs(sum_dx) < 1e-12);
        CHECK(mean_xhat2 == doctest::Approx(var / (var + eps)).epsilon(1e-12));
        CHECK(sum_dx_xhat == doctest::Approx(C * rstd * mean_dxhat_xhat * eps / (var + eps)).epsilon(1e-9));
        if (eps == 0) CHECK(std::abs(sum_dx_xhat) < 1e-12);
        if (eps == 0.5) CHECK(std::abs(sum_dx_xhat) > 1e-3);  // not zero: the identity needs eps = 0
    }
}

TEST_CASE("doc numbers: layers_math.md, GELU's minimum at x = -0.7518, gelu = -0.1700") {
    // gelu' = Phi(x) + x phi(x) changes sign at the minimum; found by bisection on the op's own backward.
    const auto slope = [](double at) {
        Tensor x = Tensor::from_vector({at}, {1});
        x.requires_grad_();
        gelu(x).backward(Tensor::ones({1}));
        return x.grad().data()[0];
    };
    double low = -1, high = -0.5;
    REQUIRE(slope(low) < 0);
    REQUIRE(slope(high) > 0);
    for (int i = 0; i < 60; ++i) {
        const double middle = (low + high) / 2;
        (slope(middle) < 0 ? low : high) = middle;
    }
    CHECK(std::round(low * 1e4) == -7518);
    CHECK(std::round(gelu(Tensor::from_vector({low}, {1})).data()[0] * 1e4) == -1700);
    CHECK(slope(-1) == doctest::Approx(-0.0833155).epsilon(1e-6));
    CHECK(slope(1) == doctest::Approx(1.083315).epsilon(1e-6));
}

TEST_CASE("doc numbers: training.md's epoch line and its arithmetic of the default run") {
    const int64_t N = (50000 + 128 - 1) / 128;  // batches per epoch
    CHECK(N == 391);
    CHECK(50000 - 390 * 128 == 80);  // data.md: 390 full batches and one of 80
    // epoch 3 of 21 ends at step 3N - 1 = 1172; warmup 2 epochs; lr 1e-3 down to 1e-5
    CHECK(3 * N - 1 == 1172);
    const double lr = warmup_cosine_lr(3 * N - 1, 2 * N, 21 * N, 1e-3, 1e-5);
    CHECK(std::round(lr * 1e6) == 993);  // printed as 0.000993
    // 50,000 images at 340 img/s, 10,000 test images at ~1,100/s, 21 epochs
    CHECK(std::round(50000 / 340.0) == 147);
    CHECK(std::round(10000 / 1100.0) == 9);
    CHECK(21 * (147 + 9) == 3276);  // about 3,280 s, 55 minutes
    CHECK(3 * (147 + 9) == 468);    // 7m48s after 3 epochs
}
