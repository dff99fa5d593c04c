// The whole models (nn/vit.cpp, nn/swin.cpp): parameter counts from the closed-form formula and from
// torchvision, timm's names, float64 gradient checks of a tiny ViT and a tiny Swin, logits, loss and
// every parameter's gradient against PyTorch, and the full-size Swin-T's forward pass against torchvision's
// swin_t (tests/reference/make_reference.py).
#include <algorithm>
#include <cmath>
#include <map>

#include "nn/swin.h"
#include "nn/vit.h"
#include "tests/helpers.h"
#include "tests/reference/model_reference.h"

using namespace patchgrad;

namespace {

// The deterministic weights of tests/reference/make_reference.py:
//   w[i] = base + 0.2 sin(0.37 i + 0.1 seed),  seed = the sum of the name's bytes, base 1 for LayerNorm weights
void fill_reference_weights(Module& model) {
    for (auto& [name, p] : model.named_parameters()) {
        int64_t seed = 0;
        for (unsigned char c : name) seed += c;
        const bool norm_weight = name.find("norm") != std::string::npos && name.size() >= 7 &&
                                 name.compare(name.size() - 7, 7, ".weight") == 0 && p.dim() == 1;
        for (int64_t i = 0; i < p.numel(); ++i)
            p.data()[i] = (norm_weight ? 1.0 : 0.0) + 0.2 * std::sin(0.37 * i + 0.1 * seed);
    }
}

Tensor reference_images(int64_t B, int64_t C, int64_t S) {
    Tensor x = Tensor::empty({B, C, S, S});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = std::sin(0.13 * i);
    return x;
}

// Logits, loss and all gradients of `model` on the reference input equal PyTorch's.
void check_against_reference(ImageClassifier& model, int64_t batch, int64_t channels, int64_t image,
                             int64_t classes, const std::vector<double>& logits_expected, double loss_expected,
                             const std::vector<reference::ReferenceTensor>& grads_expected) {
    fill_reference_weights(model);
    model.eval();
    Rng rng(0);
    Tensor targets = Tensor::empty({batch});
    for (int64_t i = 0; i < batch; ++i) targets.data()[i] = static_cast<Scalar>(i % classes);
    Tensor logits = model.forward(reference_images(batch, channels, image), rng);
    check_values(logits, {batch, classes}, logits_expected, 1e-10);
    Tensor loss = cross_entropy(logits, targets);
    CHECK(loss.item() == doctest::Approx(loss_expected).epsilon(1e-12));
    loss.backward();
    std::map<std::string, Tensor> params;
    for (auto& [name, p] : model.named_parameters()) params[name] = p;
    CHECK(params.size() == grads_expected.size());
    for (const auto& expected : grads_expected) {
        CAPTURE(expected.name);
        REQUIRE(params.count(expected.name) == 1);
        const Tensor& p = params[expected.name];
        REQUIRE(p.grad().defined());
        check_values(p.grad(), Shape(expected.shape.begin(), expected.shape.end()), expected.values, 1e-10);
    }
}

// Gradient check of the input and every parameter of a model, through a cross-entropy loss.
void check_model_gradients(ImageClassifier& model, const Tensor& images, int64_t classes) {
    model.eval();
    Tensor targets = Tensor::empty({images.size(0)});
    for (int64_t i = 0; i < images.size(0); ++i) targets.data()[i] = static_cast<Scalar>(i % classes);
    std::vector<Tensor> inputs{images};
    for (const Tensor& p : model.parameters()) inputs.push_back(p);
    check_gradients(
        [&](const std::vector<Tensor>& in) {
            Rng rng(0);
            return model.forward(in[0], rng);  // parameters are the module's own tensors, perturbed in place
        },
        inputs);
}

}  // namespace

TEST_CASE("ViT: parameter counts from the formula equal the built model and torchvision") {
    Rng rng(0);
    ViTConfig reference;  // the defaults: the reference tiny ViT
    CHECK(reference.parameter_count() == 811146);  // torchvision's VisionTransformer at this config
    CHECK(VisionTransformer(reference, rng).parameter_count() == 811146);

    ViTConfig mnist;  // a small MNIST ViT; torchvision counts 141,066 at this config
    mnist.image_size = 28, mnist.in_channels = 1, mnist.patch_size = 4, mnist.dim = 64, mnist.depth = 4;
    mnist.mlp_dim = 128;
    // torchvision's conv has 3 input channels there: 141066 - 64*(3-1)*4*4 for one channel
    CHECK(mnist.parameter_count() == 141066 - 64 * 2 * 16);
    CHECK(VisionTransformer(mnist, rng).parameter_count() == mnist.parameter_count());

    for (PositionEmbeddingKind kind : {PositionEmbeddingKind::learned_2d, PositionEmbeddingKind::sincos_1d,
                                       PositionEmbeddingKind::sincos_2d}) {
        ViTConfig other = reference;
        other.position = kind;
        other.pooling = Pooling::mean;
        CAPTURE(to_string(kind));
        CHECK(VisionTransformer(other, rng).parameter_count() == other.parameter_count());
    }
}

TEST_CASE("Swin: parameter counts from the formula equal the built model and torchvision") {
    Rng rng(0);
    SwinConfig reference;
    CHECK(reference.parameter_count() == 1556902);  // torchvision's SwinTransformer at this config
    CHECK(SwinTransformer(reference, rng).parameter_count() == 1556902);
    SwinConfig mnist;
    mnist.image_size = 28, mnist.in_channels = 3, mnist.embed_dim = 32, mnist.depths = {2, 2};
    mnist.heads = {2, 4}, mnist.window_size = 7;
    CHECK(mnist.parameter_count() == 95766);  // torchvision, 3 channels
    CHECK(SwinTransformer(mnist, rng).parameter_count() == 95766);
}

TEST_CASE("ViT and Swin: buffer counts from the formula equal the built model's buffers") {
    const auto buffer_numbers = [](const Module& model) {
        int64_t count = 0;
        for (const auto& [name, buffer] : model.named_buffers()) count += buffer.numel();
        return count;
    };
    Rng rng(0);
    ViTConfig vit;
    vit.dim = 16, vit.depth = 1, vit.heads = 2, vit.mlp_dim = 16;
    CHECK(vit.buffer_count() == 0);  // learned_1d: a parameter, no buffer
    CHECK(buffer_numbers(VisionTransformer(vit, rng)) == 0);
    for (PositionEmbeddingKind kind : {PositionEmbeddingKind::sincos_1d, PositionEmbeddingKind::sincos_2d})
        for (Pooling pooling : {Pooling::cls, Pooling::mean}) {
            vit.position = kind, vit.pooling = pooling;
            CAPTURE(to_string(kind));
            CAPTURE(to_string(pooling));
            CHECK(vit.buffer_count() == (64 + (pooling == Pooling::cls ? 1 : 0)) * 16);  // (8 x 8 patches [+ CLS]) x D
            CHECK(buffer_numbers(VisionTransformer(vit, rng)) == vit.buffer_count());
        }

    SwinConfig swin;  // the reference: grids 16, 8, 4 with windows 4, 4, 4 and 2 blocks each
    swin.embed_dim = 8, swin.heads = {1, 1, 1};
    CHECK(swin.buffer_count() == 6 * 16 * 16);
    CHECK(buffer_numbers(SwinTransformer(swin, rng)) == swin.buffer_count());
    swin.window_size = 8;  // windows 8, 8 and then the 4 x 4 grid itself
    CHECK(swin.buffer_count() == 4 * 64 * 64 + 2 * 16 * 16);
    CHECK(buffer_numbers(SwinTransformer(swin, rng)) == swin.buffer_count());
}

TEST_CASE("Swin-T: the canonical hierarchy from SwinConfig::swin_t(), 28,288,354 parameters as torchvision's") {
    const SwinConfig config = SwinConfig::swin_t();
    CHECK(config.parameter_count() == 28288354);  // sum(p.numel() for p in torchvision.models.swin_t().parameters())
    //                                         grid  C    depth heads window shift merge
    const std::vector<SwinStageLayout> expected{{56, 96, 2, 3, 7, 3, true},
                                                {28, 192, 2, 6, 7, 3, true},
                                                {14, 384, 6, 12, 7, 3, true},
                                                {7, 768, 2, 24, 7, 0, false}};  // one 7x7 window: no shift
    const int64_t windows[] = {64, 16, 4, 1};                                   // (grid / 7)^2
    const std::vector<SwinStageLayout> stages = config.stages();
    REQUIRE(stages.size() == expected.size());
    Rng rng(0);
    SwinTransformer swin(config, rng);
    CHECK(swin.parameter_count() == 28288354);
    for (size_t i = 0; i < stages.size(); ++i) {
        CAPTURE(i);
        CHECK(stages[i].grid == expected[i].grid);
        CHECK(stages[i].channels == expected[i].channels);
        CHECK(stages[i].depth == expected[i].depth);
        CHECK(stages[i].heads == expected[i].heads);
        CHECK(stages[i].window == expected[i].window);
        CHECK(stages[i].shift == expected[i].shift);
        CHECK(stages[i].downsample == expected[i].downsample);
        CHECK(stages[i].windows() == windows[i]);
        // the built model follows the layout: W-MSA in even blocks, SW-MSA (shift 3, or 0) in odd ones
        const SwinStage& stage = swin.layers[i];
        REQUIRE(static_cast<int64_t>(stage.blocks.size()) == stages[i].depth);
        for (size_t j = 0; j < stage.blocks.size(); ++j) {
            CHECK(stage.blocks[j].window_size() == stages[i].window);
            CHECK(stage.blocks[j].shift() == (j % 2 == 0 ? 0 : stages[i].shift));
        }
        CHECK((stage.downsample != nullptr) == stages[i].downsample);
    }
    std::map<std::string, Shape> shapes;
    for (auto& [name, p] : swin.named_parameters()) shapes[name] = p.shape();
    CHECK(shapes.at("patch_embed.proj.weight") == Shape{96, 3, 4, 4});
    CHECK(shapes.at("layers.0.blocks.1.attn.relative_position_bias_table") == Shape{169, 3});  // (2*7 - 1)^2 rows
    CHECK(shapes.at("layers.0.blocks.0.mlp.fc1.weight") == Shape{384, 96});                    // MLP ratio 4
    CHECK(shapes.at("layers.2.blocks.5.attn.qkv.weight") == Shape{1152, 384});
    CHECK(shapes.at("layers.2.downsample.norm.weight") == Shape{1536});                        // 4C
    CHECK(shapes.at("layers.2.downsample.reduction.weight") == Shape{768, 1536});               // 4C -> 2C
    CHECK(shapes.at("layers.3.blocks.1.attn.relative_position_bias_table") == Shape{169, 24});
    CHECK(shapes.count("layers.3.downsample.reduction.weight") == 0);
    CHECK(shapes.at("norm.weight") == Shape{768});
    CHECK(shapes.at("head.weight") == Shape{1000, 768});
}

// The full-size Swin-T against torchvision's swin_t, forward only (28 million weights: the gradients are
// checked on the tiny Swin above). SwinTransformer::forward is run one stage at a time so that each
// stage's output is compared too, by its mean and mean absolute value; then all 1000 logits. Everything
// to 1e-9 of the size of the values (the mean absolute value of a stage, the largest logit). forward()
// itself, the same lines in one call, is compared whole on the tiny Swin above.
TEST_CASE("Swin-T: a 224x224 forward pass equals torchvision's swin_t, stage by stage, to 1e-9") {
    Rng rng(0);
    SwinTransformer swin(SwinConfig::swin_t(), rng);
    fill_reference_weights(swin);
    swin.eval();
    NoGradGuard no_grad;  // a forward pass only: no graph, no saved activations
    const auto check_stage = [](const Tensor& h, const reference::StageSummary& expected) {
        CAPTURE(expected.name);
        REQUIRE(h.shape() == Shape(expected.shape.begin(), expected.shape.end()));
        double sum = 0, abs_sum = 0;
        for (int64_t i = 0; i < h.numel(); ++i) sum += h.data()[i], abs_sum += std::abs(h.data()[i]);
        const double n = static_cast<double>(h.numel()), tolerance = 1e-9 * expected.abs_mean;
        CHECK(std::abs(sum / n - expected.mean) <= tolerance);
        CHECK(std::abs(abs_sum / n - expected.abs_mean) <= tolerance);
    };
    Tensor x = swin.patch_embed.forward(reference_images(1, 3, 224));  // (1, 3136, 96): a 56x56 grid
    check_stage(x, reference::swin_t_stages[0]);
    for (size_t i = 0; i < swin.layers.size(); ++i) {                   // (1, 784, 192) ... (1, 49, 768)
        x = swin.layers[i].forward(x, rng);
        check_stage(x, reference::swin_t_stages[i + 1]);
    }
    const Tensor logits = swin.head.forward(mean(swin.norm.forward(x), 1));  // (1, 1000)
    double largest = 0;
    for (const double value : reference::swin_t_logits) largest = std::max(largest, std::abs(value));
    check_values(logits, {1, 1000}, reference::swin_t_logits, 1e-9 * largest);
}

TEST_CASE("ViT and Swin use timm's parameter names and layouts") {
    Rng rng(0);
    VisionTransformer vit(ViTConfig{}, rng);
    std::map<std::string, Shape> shapes;
    for (auto& [name, p] : vit.named_parameters()) shapes[name] = p.shape();
    CHECK(shapes.at("cls_token") == Shape{1, 1, 128});
    CHECK(shapes.at("pos_embed") == Shape{1, 65, 128});
    CHECK(shapes.at("patch_embed.proj.weight") == Shape{128, 3, 4, 4});
    CHECK(shapes.at("blocks.0.norm1.weight") == Shape{128});
    CHECK(shapes.at("blocks.5.attn.qkv.weight") == Shape{384, 128});
    CHECK(shapes.at("blocks.5.attn.proj.weight") == Shape{128, 128});
    CHECK(shapes.at("blocks.0.mlp.fc1.weight") == Shape{256, 128});
    CHECK(shapes.at("blocks.0.mlp.fc2.bias") == Shape{128});
    CHECK(shapes.at("norm.weight") == Shape{128});
    CHECK(shapes.at("head.weight") == Shape{10, 128});

    SwinTransformer swin(SwinConfig{}, rng);
    shapes.clear();
    for (auto& [name, p] : swin.named_parameters()) shapes[name] = p.shape();
    CHECK(shapes.at("patch_embed.proj.weight") == Shape{64, 3, 2, 2});
    CHECK(shapes.at("patch_embed.norm.weight") == Shape{64});
    CHECK(shapes.at("layers.0.blocks.1.attn.relative_position_bias_table") == Shape{49, 2});
    CHECK(shapes.at("layers.0.blocks.1.attn.qkv.weight") == Shape{192, 64});
    CHECK(shapes.at("layers.0.downsample.reduction.weight") == Shape{128, 256});
    CHECK(shapes.at("layers.0.downsample.norm.weight") == Shape{256});
    CHECK(shapes.at("layers.2.blocks.0.mlp.fc1.weight") == Shape{512, 256});
    CHECK(shapes.count("layers.2.downsample.reduction.weight") == 0);  // the last stage does not merge
    CHECK(shapes.at("head.weight") == Shape{10, 256});
    bool has_index = false;
    for (auto& [name, b] : swin.named_buffers())
        has_index = has_index || name == "layers.1.blocks.0.attn.relative_position_index";
    CHECK(has_index);
}

TEST_CASE("Swin: the shift is off where the window covers the whole grid") {
    Rng rng(0);
    SwinTransformer swin(SwinConfig{}, rng);  // grids 16, 8, 4 with window 4
    CHECK(swin.layers[0].blocks[1].shift() == 2);
    CHECK(swin.layers[1].blocks[1].shift() == 2);
    CHECK(swin.layers[2].blocks[1].shift() == 0);  // 4x4 grid, one window
    CHECK(swin.layers[2].blocks[1].window_size() == 4);
}

TEST_CASE("ViT: logits, loss and every gradient equal PyTorch's") {
    ViTConfig config;
    config.image_size = 8, config.patch_size = 4, config.dim = 8, config.depth = 2, config.heads = 2;
    config.mlp_dim = 16, config.num_classes = 3;
    Rng rng(1);
    VisionTransformer vit(config, rng);
    check_against_reference(vit, 2, 3, 8, 3, reference::vit_logits, reference::vit_loss, reference::vit_grads);
}

TEST_CASE("Swin: logits, loss and every gradient equal PyTorch's (shifted windows with the mask)") {
    SwinConfig config;
    config.image_size = 16, config.patch_size = 2, config.embed_dim = 8, config.depths = {2, 2};
    config.heads = {2, 4}, config.window_size = 4, config.num_classes = 3;
    Rng rng(1);
    SwinTransformer swin(config, rng);
    check_against_reference(swin, 2, 3, 16, 3, reference::swin_logits, reference::swin_loss, reference::swin_grads);
}

TEST_CASE("ViT: float64 gradient check of the input and every parameter") {
    for (Pooling pooling : {Pooling::cls, Pooling::mean}) {
        CAPTURE(to_string(pooling));
        ViTConfig config;
        config.image_size = 4, config.in_channels = 2, config.patch_size = 2, config.dim = 4, config.depth = 1;
        config.heads = 2, config.mlp_dim = 8, config.num_classes = 3, config.pooling = pooling;
        config.position = pooling == Pooling::cls ? PositionEmbeddingKind::learned_1d : PositionEmbeddingKind::learned_2d;
        Rng rng(2);
        VisionTransformer vit(config, rng);
        perturb_parameters(vit, rng);
        check_model_gradients(vit, random_tensor({2, 2, 4, 4}, 3), 3);
    }
}

TEST_CASE("ViT with shifted patches: the patch embedding reads 5C channels; counts, forward, gradient check") {
    ViTConfig config;
    config.image_size = 4, config.in_channels = 2, config.patch_size = 2, config.dim = 4, config.depth = 1;
    config.heads = 2, config.mlp_dim = 8, config.num_classes = 3, config.pooling = Pooling::mean;
    config.shifted_patches = true;
    Rng rng(5);
    VisionTransformer vit(config, rng);
    CHECK(vit.patch_embed.proj.weight.shape() == Shape{4, 10, 2, 2});  // (D, 5C, P, P)
    CHECK(vit.parameter_count() == config.parameter_count());
    ViTConfig plain = config;
    plain.shifted_patches = false;
    CHECK(config.parameter_count() - plain.parameter_count() == 4 * (10 - 2) * 2 * 2);
    CHECK(config.forward_flops() - plain.forward_flops() == 2 * 4 * (10 - 2) * 2 * 2 * 4);  // 2 N (8 P P) D

    // The forward is the plain ViT's on shifted_copies(images, P / 2), given the same weights.
    ViTConfig wide = plain;
    wide.in_channels = 10;  // a plain ViT that takes the 5C channels itself
    Rng same(6), same_again(6);
    VisionTransformer shifted(config, same), on_copies(wide, same_again);
    const Tensor images = random_tensor({2, 2, 4, 4}, 7, false);
    Rng unused(0);
    shifted.eval();
    on_copies.eval();
    const Tensor a = shifted.forward(images, unused), b = on_copies.forward(shifted_copies(images, 1), unused);
    CHECK(a.to_vector() == b.to_vector());

    perturb_parameters(vit, rng);
    check_model_gradients(vit, random_tensor({2, 2, 4, 4}, 8), 3);

    ViTConfig one_pixel = config;
    one_pixel.patch_size = 1;
    CHECK(contains(thrown_message([&] { VisionTransformer(one_pixel, rng); }),
                   "needs a patch size of 2 or more, got 1"));
}

TEST_CASE("ViT with a conv stem: counts from the formulas, the stem's tokens feed the blocks, gradient check") {
    ViTConfig config;
    config.image_size = 8, config.in_channels = 2, config.patch_size = 4, config.dim = 4, config.depth = 1;
    config.heads = 2, config.mlp_dim = 8, config.num_classes = 3, config.pooling = Pooling::mean;
    config.stem = Stem::conv;
    Rng rng(9);
    VisionTransformer vit(config, rng);
    CHECK(vit.parameter_count() == config.parameter_count());
    ViTConfig plain = config;
    plain.stem = Stem::patch;
    // The stem: conv 0 (2 -> 2 channels, 3x3) 2*2*9 + 2, its LayerNorm 2*2, the last conv (2 -> 4) 4*2*9 + 4;
    // the patch embedding it replaces: 4*2*4*4 + 4.
    CHECK(config.parameter_count() - plain.parameter_count() == (2 * 2 * 9 + 2) + 4 + (4 * 2 * 9 + 4) - (4 * 2 * 16 + 4));
    // Flops: conv 0 at 4 x 4 = 16 positions, 2 * 16 * 18 * 2; the last at 2 x 2, 2 * 4 * 18 * 4; patches 2 * 4 * 32 * 4.
    CHECK(config.forward_flops() - plain.forward_flops() == 2 * 16 * 18 * 2 + 2 * 4 * 18 * 4 - 2 * 4 * 32 * 4);
    ViTConfig reference_size;  // the reference tiny ViT with mean pooling and a conv stem: 3 -> 64 -> 128
    reference_size.pooling = Pooling::mean, reference_size.stem = Stem::conv;
    CHECK(reference_size.parameter_count() == 880394);
    CHECK(VisionTransformer(reference_size, rng).parameter_count() == 880394);

    perturb_parameters(vit, rng);
    check_model_gradients(vit, random_tensor({2, 2, 8, 8}, 10), 3);

    ViTConfig odd = config;
    odd.image_size = 12, odd.patch_size = 3;
    CHECK(contains(thrown_message([&] { VisionTransformer(odd, rng); }),
                   "needs a patch size that is a power of two (2, 4, 8, ..) and dim divisible by patch/2; got patch 3"));
}

TEST_CASE("Swin: float64 gradient check of the input and every parameter, with a shifted-window mask") {
    SwinConfig config;  // an 8x8 grid with 4x4 windows shifted by 2, then 4x4 (one window, no shift)
    config.image_size = 8, config.in_channels = 1, config.patch_size = 1, config.embed_dim = 4;
    config.depths = {2, 1}, config.heads = {2, 2}, config.window_size = 4, config.num_classes = 3;
    Rng rng(3);
    SwinTransformer swin(config, rng);
    perturb_parameters(swin, rng);
    check_model_gradients(swin, random_tensor({2, 1, 8, 8}, 4), 3);
}

TEST_CASE("Swin with a conv stem: counts from the formulas, the stem's tokens feed the norm, gradient check") {
    SwinConfig config;  // P = 4: two 3 x 3 stride-2 convs, 2 -> 2 -> 4 channels, then a 2 x 2 grid, one window
    config.image_size = 8, config.in_channels = 2, config.patch_size = 4, config.embed_dim = 4;
    config.depths = {1}, config.heads = {2}, config.window_size = 2, config.num_classes = 3;
    config.stem = Stem::conv;
    Rng rng(11);
    SwinTransformer swin(config, rng);
    CHECK(swin.parameter_count() == config.parameter_count());
    CHECK(swin.patch_embed.stem() == Stem::conv);
    CHECK(swin.patch_embed.convs.size() == 1);
    SwinConfig plain = config;
    plain.stem = Stem::patch;
    // As the ViT's (above): conv 0 2*2*9 + 2 and its LayerNorm 2*2, the last conv 4*2*9 + 4, against the
    // patches' 4*2*4*4 + 4; the patch embedding's own LayerNorm is in both.
    CHECK(config.parameter_count() - plain.parameter_count() == (2 * 2 * 9 + 2) + 4 + (4 * 2 * 9 + 4) - (4 * 2 * 16 + 4));
    CHECK(config.forward_flops() - plain.forward_flops() == 2 * 16 * 18 * 2 + 2 * 4 * 18 * 4 - 2 * 4 * 32 * 4);
    SwinConfig reference_size;  // the reference tiny Swin, P = 2: one 3 x 3 conv (27 inputs) instead of 2 x 2 patches (12)
    reference_size.stem = Stem::conv;
    CHECK(reference_size.parameter_count() == 1556902 + 64 * (27 - 12));
    CHECK(SwinTransformer(reference_size, rng).parameter_count() == reference_size.parameter_count());

    perturb_parameters(swin, rng);
    check_model_gradients(swin, random_tensor({2, 2, 8, 8}, 12), 3);

    SwinConfig odd = config;
    odd.image_size = 12, odd.patch_size = 3;
    CHECK(contains(thrown_message([&] { SwinTransformer(odd, rng); }),
                   "needs a patch size that is a power of two (2, 4, 8, ..) and embed_dim divisible by patch/2; got "
                   "patch 3, embed_dim 4"));
}

TEST_CASE("ViT and Swin: impossible configs and inputs are refused with the numbers named") {
    Rng rng(0);
    ViTConfig vit;
    vit.heads = 3;
    CHECK(contains(thrown_message([&] { VisionTransformer(vit, rng); }), "heads 3 do not divide dim 128"));
    vit = ViTConfig{};
    vit.patch_size = 5;
    CHECK(contains(thrown_message([&] { VisionTransformer(vit, rng); }), "patch size 5"));
    VisionTransformer model(ViTConfig{}, rng);
    const std::string message = thrown_message([&] { model.forward(Tensor::zeros({2, 3, 28, 28}), rng); });
    CHECK(contains(message, "(2, 3, 28, 28)"));
    CHECK(contains(message, "32"));

    SwinConfig swin;
    swin.window_size = 5;
    CHECK(contains(thrown_message([&] { SwinTransformer(swin, rng); }), "window size 5"));
    swin = SwinConfig{};
    swin.heads = {2, 4};
    CHECK(contains(thrown_message([&] { SwinTransformer(swin, rng); }), "3 depths and 2 heads"));
    swin = SwinConfig{};
    swin.mlp_ratio = 0.01;  // 0.01 x 64 = 0.64: an MLP of no channels
    CHECK(contains(thrown_message([&] { SwinTransformer(swin, rng); }),
                   "mlp_ratio 0.01 x embed_dim 64 gives the first stage's MLP no channels"));
}
