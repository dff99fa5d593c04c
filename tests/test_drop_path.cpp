// Stochastic depth: the drop_path op (core/ops/drop_path.cpp) and its rates, then the ViT and the Swin with
// it (nn/vit.cpp, nn/swin.cpp). The op: a mask worked out by hand from a seed, the identity in eval mode and
// at rate 0 (nothing drawn), float64 gradient checks with the mask held fixed, the kept fraction over many
// draws, thread counts, refusals. The models: drop_path = 0 gives the logits and the random stream of the
// models before stochastic depth existed, eval mode ignores it, training uses it, both paths agree, and a
// gradient check of one ViT block and one Swin block with it.
#include <cmath>
#include <string>
#include <vector>

#include "nn/swin.h"
#include "nn/vit.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// Rng(2)'s first uniforms: 0.102179, 0.725517, 0.183962, 0.747852, 0.686150, 0.235987, 0.647125, 0.219052
constexpr uint64_t kSeed = 2;

// The images of tests/test_models.cpp: x[i] = sin(0.13 i), flat index i.
Tensor sine_images(int64_t B, int64_t C, int64_t S) {
    Tensor x = Tensor::empty({B, C, S, S});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(0.13 * static_cast<double>(i));
    return x;
}

// The state of Rng(seed) after `draws` uniforms.
Rng::State state_after(uint64_t seed, int draws) {
    Rng rng(seed);
    for (int i = 0; i < draws; ++i) rng.uniform();
    return rng.state();
}

// Tiny models whose forward draws random numbers (dropout 0.1), so a changed random stream shows.
ViTConfig tiny_vit() {
    ViTConfig c;
    c.image_size = 8, c.in_channels = 2, c.patch_size = 2, c.dim = 8, c.depth = 3, c.heads = 2, c.mlp_dim = 16;
    c.num_classes = 3, c.dropout = 0.1;
    return c;
}

SwinConfig tiny_swin() {
    SwinConfig c;  // an 8x8 grid of 2x2 windows, then a 4x4 grid of 2x2 windows shifted by 1
    c.image_size = 8, c.in_channels = 1, c.patch_size = 1, c.embed_dim = 4, c.depths = {2, 2}, c.heads = {2, 2};
    c.window_size = 2, c.num_classes = 3, c.dropout = 0.1;
    return c;
}

}  // namespace

// ---- the op ---------------------------------------------------------------------------------------------

TEST_CASE("drop_path: a mask by hand from seed 2: samples 0 and 2 dropped, 1 and 3 scaled by 1/(1 - rate)") {
    // Rng(2) draws 0.102, 0.726, 0.184, 0.748; a sample is kept when its draw is >= rate = 0.25:
    // samples 0 and 2 are dropped, 1 and 3 kept and scaled by 1 / (1 - 0.25) = 4/3.
    const Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {4, 1, 3});
    Rng rng(kSeed);
    const Tensor y = drop_path(x, 0.25, /*training=*/true, rng);
    check_values(y, {4, 1, 3}, {0, 0, 0, 16.0 / 3, 20.0 / 3, 8, 0, 0, 0, 40.0 / 3, 44.0 / 3, 16}, 1e-12);
    CHECK(rng.state() == state_after(kSeed, 4));  // one draw per sample, no more
    // At rate 0.5 the same draws drop the same samples and scale the others by 2.
    Rng again(kSeed);
    check_values(drop_path(x, 0.5, true, again), {4, 1, 3}, {0, 0, 0, 8, 10, 12, 0, 0, 0, 20, 22, 24}, 1e-12);
}

TEST_CASE("drop_path: identity in eval mode and at rate 0, drawing nothing") {
    const Tensor x = random_tensor({3, 4}, 1);
    Rng rng(0);
    const Rng::State before = rng.state();
    CHECK(drop_path(x, 0.5, /*training=*/false, rng).same(x));  // the same tensor: no copy, no graph node
    CHECK(drop_path(x, 0.0, /*training=*/true, rng).same(x));
    CHECK(rng.state() == before);                                // and nothing drawn
}

TEST_CASE("drop_path: gradient check with the mask fixed by a fixed seed; the gradient is the per-sample scale") {
    for (const Shape& shape : {Shape{4, 3}, Shape{4, 2, 3}, Shape{6, 5}}) {
        CAPTURE(to_string(shape));
        Tensor x = random_tensor(shape, 3);
        check_gradients(
            [](const std::vector<Tensor>& in) {
                Rng rng(kSeed);  // the same mask on every call: some samples dropped, some kept
                return drop_path(in[0], 0.4, true, rng);
            },
            {x});
    }
    // With dout = 1 the gradient is the scale itself: 0 for samples 0 and 2, 1/(1 - 0.5) = 2 for 1 and 3.
    Tensor x = Tensor::ones({4, 2}).requires_grad_();
    Rng rng(kSeed);
    sum(drop_path(x, 0.5, true, rng)).backward();
    CHECK(x.grad().to_vector() == std::vector<Scalar>{0, 0, 2, 2, 0, 0, 2, 2});
}

TEST_CASE("drop_path: over many draws about 1 - rate of the samples are kept, each whole") {
    Rng rng(7);
    const Tensor x = Tensor::full({10000, 2, 2}, 3);
    const Tensor y = drop_path(x, 0.3, true, rng);
    int64_t kept = 0;
    const std::vector<Scalar> values = y.to_vector();
    for (int64_t b = 0; b < 10000; ++b) {
        const Scalar first = values[size_t(4 * b)];
        const bool dropped = first == 0;
        CHECK((dropped || std::abs(first - 3 / 0.7) < 1e-12));  // 3 / (1 - 0.3)
        for (int64_t i = 1; i < 4; ++i) CHECK(values[size_t(4 * b + i)] == first);  // the whole sample alike
        kept += dropped ? 0 : 1;
    }
    // 10000 Bernoulli(0.7): mean 7000, std sqrt(10000 * 0.7 * 0.3) = 45.8; allow 5 std.
    CHECK(std::abs(kept - 7000) < 230);
    // The expectation is preserved: mean(y) = 3 within 5 std (each sample has std 3/0.7 * sqrt(.21) = 1.96).
    CHECK(std::abs(mean(y).item() - 3.0) < 5 * 1.96 / 100);
}

TEST_CASE("drop_path: the same numbers forward and backward on 1 thread and on 2") {
    const Tensor x = random_tensor({8, 64, 128}, 4, false);  // 65,536 numbers: enough to run in parallel
    const Tensor probe = random_tensor({8, 64, 128}, 5, false);
    const auto run = [&] {
        Tensor input = x.clone().requires_grad_();
        Rng rng(kSeed);
        const Tensor y = drop_path(input, 0.5, true, rng);
        sum(y * probe).backward();
        return std::vector<Tensor>{y.detach(), input.grad()};
    };
    const std::vector<Tensor> one = with_threads(1, run), two = with_threads(2, run);
    CHECK(one[0].to_vector() == two[0].to_vector());
    CHECK(one[1].to_vector() == two[1].to_vector());
}

TEST_CASE("drop_path: a rate outside [0, 1) or an input without a batch dimension is refused, naming them") {
    Rng rng(0);
    const Tensor x = Tensor::ones({2, 3});
    CHECK(thrown_message([&] { drop_path(x, 1.0, true, rng); }) == "drop_path: rate 1 must satisfy 0 <= rate < 1");
    CHECK(contains(thrown_message([&] { drop_path(x, -0.1, false, rng); }), "rate -0.1"));  // in eval mode too
    CHECK(contains(thrown_message([&] { drop_path(x, std::nan(""), true, rng); }), "0 <= rate < 1"));
    CHECK(contains(thrown_message([&] { drop_path(Tensor::scalar(1), 0.1, true, rng); }), "no batch dimension"));
    CHECK(contains(thrown_message([&] { drop_path(Tensor(), 0.1, true, rng); }), "undefined"));
}

TEST_CASE("stochastic_depth_rates: from 0 at the first block to max_rate at the last, max_rate for a lone block") {
    const std::vector<double> rates = stochastic_depth_rates(0.3, 4);  // 0.3 * i / 3
    REQUIRE(rates.size() == 4);
    CHECK(rates[0] == 0.0);
    CHECK(rates[1] == doctest::Approx(0.1).epsilon(1e-15));
    CHECK(rates[2] == doctest::Approx(0.2).epsilon(1e-15));
    CHECK(rates[3] == 0.3);
    CHECK(stochastic_depth_rates(0.2, 1) == std::vector<double>{0.2});
    CHECK(stochastic_depth_rates(0.0, 3) == std::vector<double>{0, 0, 0});
    CHECK(stochastic_depth_rates(0.2, 0).empty());
    CHECK(contains(thrown_message([] { stochastic_depth_rates(1.5, 2); }), "max_rate 1.5"));
}

// ---- the models ---------------------------------------------------------------------------------------------

// The logits and the Rng state below were printed by these same models, built from Rng(1) and run in
// training mode on Rng(2), before stochastic depth existed (commit d42f6f1). drop_path = 0 must reproduce
// them: the same numbers (a changed random stream or a stray scale would move them by 1e-3 or more; 1e-15
// leaves room only for another compiler's rounding) and exactly the same draws. On both paths.
TEST_CASE("stochastic depth: drop_path = 0 gives the logits and the random stream of the models before it") {
    const std::vector<double> vit_logits{
        -0.039827419009881258, -0.012890580517459253, -0.049822429320396072, -0.037955106180374676,
        -0.0075962179178835892, -0.050193845585160449, -0.045968789109810955, -0.0088156014555420947,
        -0.043666448204942948, -0.12231635770990303, -0.025551775722737979, -0.031415343446631196};
    const Rng::State vit_state{0xad7d12b76df95714ULL, 0x1bb952c4689fc2d4ULL, 0x38d8119340453b61ULL,
                               0xe6ad26bfe74783a8ULL};
    const std::vector<double> swin_logits{0.018208387115298753, 0.010293288507409964, -0.0022212532603412749,
                                          0.026187379651955802, 0.01275881150084403,  -0.0059658234323437713};
    const Rng::State swin_state{0x32d67f3cb85a7462ULL, 0x0264a3c32d0c7e0fULL, 0x5678076655fe3976ULL,
                                0xffbc55b134fa7b47ULL};
    for (Kernels kernels : {Kernels::fast, Kernels::reference}) {
        CAPTURE(to_string(kernels));
        ViTConfig vit_config = tiny_vit();
        vit_config.kernels = kernels;
        vit_config.drop_path = 0.0;
        Rng init(1), rng(kSeed);
        VisionTransformer vit(vit_config, init);
        check_values(vit.forward(sine_images(4, 2, 8), rng), {4, 3}, vit_logits, 1e-15);
        CHECK(rng.state() == vit_state);

        SwinConfig swin_config = tiny_swin();
        swin_config.kernels = kernels;
        swin_config.drop_path = 0.0;
        Rng swin_init(1), swin_rng(kSeed);
        SwinTransformer swin(swin_config, swin_init);
        check_values(swin.forward(sine_images(2, 1, 8), swin_rng), {2, 3}, swin_logits, 1e-15);
        CHECK(swin_rng.state() == swin_state);
    }
}

TEST_CASE("stochastic depth: the rates rise linearly over all blocks, across Swin's stages; the blocks hold them") {
    ViTConfig vit_config = tiny_vit();  // 3 blocks
    vit_config.drop_path = 0.2;
    CHECK(vit_config.drop_path_rates() == std::vector<double>{0, 0.1, 0.2});
    Rng rng(0);
    VisionTransformer vit(vit_config, rng);
    for (size_t i = 0; i < 3; ++i) CHECK(vit.blocks[i].drop_path_rate() == vit_config.drop_path_rates()[i]);

    SwinConfig swin_config = tiny_swin();  // depths {2, 2}: 4 blocks, 0.3 * i / 3
    swin_config.drop_path = 0.3;
    const std::vector<double> rates = swin_config.drop_path_rates();
    REQUIRE(rates.size() == 4);
    SwinTransformer swin(swin_config, rng);
    CHECK(swin.layers[0].blocks[0].drop_path_rate() == 0.0);
    CHECK(swin.layers[0].blocks[1].drop_path_rate() == doctest::Approx(0.1).epsilon(1e-15));
    CHECK(swin.layers[1].blocks[0].drop_path_rate() == doctest::Approx(0.2).epsilon(1e-15));  // stage 1 goes on
    CHECK(swin.layers[1].blocks[1].drop_path_rate() == 0.3);
}

TEST_CASE("stochastic depth: in eval mode a model with drop_path > 0 equals the same model with drop_path = 0") {
    for (Kernels kernels : {Kernels::fast, Kernels::reference}) {
        CAPTURE(to_string(kernels));
        Tensor logits[2];
        Rng::State states[2];
        for (int with = 0; with < 2; ++with) {
            ViTConfig config = tiny_vit();
            config.kernels = kernels;
            config.drop_path = with ? 0.5 : 0.0;
            Rng init(1), rng(kSeed);
            VisionTransformer vit(config, init);  // the same weights: drop_path draws nothing at init
            vit.eval();
            logits[with] = vit.forward(sine_images(4, 2, 8), rng);
            states[with] = rng.state();
        }
        CHECK(logits[0].to_vector() == logits[1].to_vector());
        CHECK(states[0] == states[1]);

        Tensor swin_logits[2];
        for (int with = 0; with < 2; ++with) {
            SwinConfig config = tiny_swin();
            config.kernels = kernels;
            config.drop_path = with ? 0.5 : 0.0;
            Rng init(1), rng(kSeed);
            SwinTransformer swin(config, init);
            swin.eval();
            swin_logits[with] = swin.forward(sine_images(2, 1, 8), rng);
        }
        CHECK(swin_logits[0].to_vector() == swin_logits[1].to_vector());
    }
}

TEST_CASE("stochastic depth: a ViT with drop_path > 0 in training changes the output, one draw per sample and branch") {
    ViTConfig config = tiny_vit();
    config.dropout = 0.0;  // only drop_path draws
    Tensor logits[2];
    for (int with = 0; with < 2; ++with) {
        config.drop_path = with ? 0.5 : 0.0;
        Rng init(1), rng(kSeed);
        VisionTransformer vit(config, init);
        logits[with] = vit.forward(sine_images(4, 2, 8), rng);  // in training mode
        // Block 0 has rate 0 and draws nothing; blocks 1 and 2 draw 4 samples x 2 branches each.
        CHECK(rng.state() == state_after(kSeed, with ? 16 : 0));
    }
    CHECK(max_abs_difference(logits[0], logits[1]) > 1e-3);
}

TEST_CASE("stochastic depth: in training the fast and the textbook paths drop the same samples") {
    Tensor vit_logits[2], swin_logits[2];
    for (int path = 0; path < 2; ++path) {
        const Kernels kernels = path == 0 ? Kernels::fast : Kernels::reference;
        ViTConfig vit_config = tiny_vit();
        vit_config.kernels = kernels, vit_config.drop_path = 0.5;
        Rng init(1), rng(kSeed);
        vit_logits[path] = VisionTransformer(vit_config, init).forward(sine_images(4, 2, 8), rng);
        SwinConfig swin_config = tiny_swin();
        swin_config.kernels = kernels, swin_config.drop_path = 0.5;
        Rng swin_init(1), swin_rng(kSeed);
        swin_logits[path] = SwinTransformer(swin_config, swin_init).forward(sine_images(2, 1, 8), swin_rng);
    }
    CHECK(max_abs_difference(vit_logits[0], vit_logits[1]) <= 1e-12);
    CHECK(max_abs_difference(swin_logits[0], swin_logits[1]) <= 1e-12);
}

TEST_CASE("stochastic depth: gradient checks of a ViT block and a Swin block with drop_path 0.5, the masks fixed") {
    // Rng(2)'s first eight draws drop samples 0 and 2 of the attention branch (0.10, 0.73, 0.18, 0.75) and
    // samples 1 and 3 of the MLP branch (0.69, 0.24, 0.65, 0.22): each sample skips one branch of the two.
    Rng rng(3);
    TransformerEncoderBlock block(4, 2, 8, 1e-6, 0.0, rng, 0.5);
    std::vector<Tensor> inputs{random_tensor({4, 3, 4}, 6)};
    perturb_parameters(block, rng);  // moved off their init (zero biases, unit norms)
    for (const Tensor& p : block.parameters()) inputs.push_back(p);
    check_gradients(
        [&](const std::vector<Tensor>& in) {
            Rng masks(kSeed);  // the same masks on every call
            return block.forward(in[0], masks);
        },
        inputs);

    for (Kernels kernels : {Kernels::fast, Kernels::reference}) {
        CAPTURE(to_string(kernels));
        SwinBlock swin_block(4, 2, 4, 4, 2, 1, 2.0, 1e-5, 0.0, rng, 0.5);  // 2x2 windows shifted by 1
        swin_block.use_kernels(kernels);
        std::vector<Tensor> swin_inputs{random_tensor({4, 16, 4}, 7)};
        perturb_parameters(swin_block, rng);
        for (const Tensor& p : swin_block.parameters()) swin_inputs.push_back(p);
        check_gradients(
            [&](const std::vector<Tensor>& in) {
                Rng masks(kSeed);
                return swin_block.forward(in[0], masks);
            },
            swin_inputs);
    }
}

TEST_CASE("stochastic depth: ViTConfig and SwinConfig refuse drop_path outside [0, 1), naming the value") {
    ViTConfig vit = tiny_vit();
    vit.drop_path = 1.0;
    CHECK(thrown_message([&] { vit.validate(); }) == "ViT: drop_path must be in [0, 1), got 1");
    vit.drop_path = std::nan("");
    CHECK(contains(thrown_message([&] { vit.validate(); }), "drop_path must be in [0, 1)"));
    SwinConfig swin = tiny_swin();
    swin.drop_path = -0.1;
    CHECK(thrown_message([&] { swin.validate(); }) == "Swin: drop_path must be in [0, 1), got -0.1");
    Rng rng(0);
    CHECK(contains(thrown_message([&] { TransformerEncoderBlock(4, 2, 8, 1e-6, 0.0, rng, 1.0); }),
                   "drop_path_rate must be in [0, 1), got 1"));
}
