// A model built with Kernels::reference runs every layer's textbook twin (nn/module.h): the same weights
// give the same logits, loss and gradients as the fast kernels, to 1e-10 in float64, for the ViT and the
// Swin (shifted windows, mask and patch merging included), and layer by layer.
#include <cmath>

#include "nn/attention.h"
#include "nn/mlp.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// Runs `forward` through `module` twice, with fast and with reference kernels, backpropagating the same
// random probe; checks the outputs, the input's gradient and every parameter's gradient agree.
void check_paths_agree(Module& module, const Tensor& input, const std::function<Tensor(const Tensor&)>& forward,
                       double tolerance = 1e-10) {
    Tensor outputs[2], input_grads[2];
    std::vector<Tensor> param_grads[2];
    for (int path = 0; path < 2; ++path) {
        module.use_kernels(path == 0 ? Kernels::fast : Kernels::reference);
        module.zero_grad();
        Tensor x = input.clone().requires_grad_();
        Tensor out = forward(x);
        sum(out * random_tensor(out.shape(), 77, false)).backward();
        outputs[path] = out.detach();
        input_grads[path] = x.grad();
        for (const auto& [name, p] : module.named_parameters()) param_grads[path].push_back(p.grad());
    }
    module.use_kernels(Kernels::fast);
    CHECK(max_abs_difference(outputs[0], outputs[1]) <= tolerance);
    CHECK(max_abs_difference(input_grads[0], input_grads[1]) <= tolerance);
    const auto names = module.named_parameters();
    for (size_t i = 0; i < names.size(); ++i) {
        CAPTURE(names[i].first);
        CHECK(max_abs_difference(param_grads[0][i], param_grads[1][i]) <= tolerance);
    }
}

}  // namespace

TEST_CASE("reference kernels: every layer's textbook path agrees with its fast path") {
    Rng rng(3), unused(0);
    SUBCASE("Linear and LayerNorm") {
        Linear fc(6, 4, rng);
        check_paths_agree(fc, random_tensor({2, 3, 6}, 1, false), [&](const Tensor& x) { return fc.forward(x); });
        LayerNorm norm(6, 1e-5);
        norm.weight.data()[0] = 1.7, norm.bias.data()[2] = -0.4;  // not the identity
        check_paths_agree(norm, random_tensor({2, 3, 6}, 2, false), [&](const Tensor& x) { return norm.forward(x); });
    }
    SUBCASE("Mlp (GELU) and MultiHeadSelfAttention") {
        Mlp mlp(6, 12, rng);
        check_paths_agree(mlp, random_tensor({2, 3, 6}, 3, false), [&](const Tensor& x) { return mlp.forward(x, unused); });
        MultiHeadSelfAttention attn(8, 2, rng);
        check_paths_agree(attn, random_tensor({2, 5, 8}, 4, false), [&](const Tensor& x) { return attn.forward(x, unused); });
    }
    SUBCASE("SwinBlock with a shift, and PatchMerging") {
        // An 8 x 8 grid of windows of 4: four windows, and a shift of 2 with its mask.
        SwinBlock block(8, 2, 8, 8, 4, 2, 2.0, 1e-5, 0.0, rng);
        check_paths_agree(block, random_tensor({2, 64, 8}, 5, false), [&](const Tensor& x) { return block.forward(x, unused); });
        PatchMerging merging(4, 4, 6, 1e-5, rng);
        check_paths_agree(merging, random_tensor({2, 24, 4}, 6, false), [&](const Tensor& x) { return merging.forward(x); });
    }
}

TEST_CASE("reference kernels: a whole ViT and a whole Swin agree on both paths; the config chooses") {
    ViTConfig vit_config;
    vit_config.image_size = 8, vit_config.patch_size = 4, vit_config.dim = 8, vit_config.depth = 2;
    vit_config.heads = 2, vit_config.mlp_dim = 16, vit_config.num_classes = 3;
    vit_config.kernels = Kernels::reference;
    Rng rng(1), unused(0);
    VisionTransformer vit(vit_config, rng);
    CHECK(vit.kernels() == Kernels::reference);
    CHECK(vit.blocks[0].attn.qkv.kernels() == Kernels::reference);  // passed down to every layer
    check_paths_agree(vit, random_tensor({2, 3, 8, 8}, 7, false), [&](const Tensor& x) { return vit.forward(x, unused); });

    SwinConfig swin_config;
    swin_config.image_size = 16, swin_config.patch_size = 2, swin_config.embed_dim = 8, swin_config.depths = {2, 2};
    swin_config.heads = {2, 4}, swin_config.window_size = 4, swin_config.num_classes = 3;
    SwinTransformer swin(swin_config, rng);
    CHECK(swin.kernels() == Kernels::fast);
    check_paths_agree(swin, random_tensor({2, 3, 16, 16}, 8, false), [&](const Tensor& x) { return swin.forward(x, unused); });
    swin_config.stem = Stem::conv;  // and with a conv stem, whose twin unfolds with slices
    SwinTransformer swin_with_stem(swin_config, rng);
    check_paths_agree(swin_with_stem, random_tensor({2, 3, 16, 16}, 10, false),
                      [&](const Tensor& x) { return swin_with_stem.forward(x, unused); });

    // And the loss: cross_entropy and its twin on the model's logits.
    const Tensor logits = random_tensor({4, 3}, 9);
    const Tensor targets = Tensor::from_vector({0, 2, 1, 2}, {4});
    CHECK(std::abs(cross_entropy(logits, targets, 0.1).item() - cross_entropy_reference(logits, targets, 0.1).item()) <= 1e-12);
}
