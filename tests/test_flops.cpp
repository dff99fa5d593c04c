// The forward flops of the models (ViTConfig::forward_flops, SwinConfig::forward_flops): the formula
// against sums worked by hand for the reference configs and for small odd ones, against the published
// counts of DeiT-S and of Swin-T, -S and -B, and against the products a built model really runs, read
// from its autograd graph, so a product the formula forgot (or one the model gained) fails the test.
#include <cmath>
#include <regex>
#include <string>
#include <vector>

#include "nn/swin.h"
#include "nn/vit.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// "(1, 65, 128)" -> {1, 65, 128}
std::vector<int64_t> parse_shape(const std::string& text) {
    std::vector<int64_t> sizes;
    const std::regex number("[0-9]+");
    for (auto it = std::sregex_iterator(text.begin(), text.end(), number); it != std::sregex_iterator(); ++it)
        sizes.push_back(std::stoll(it->str()));
    return sizes;
}

// The flops of every matrix product in the graph behind `out`, 2 a multiply-add, read from its DOT text
// (core/graph_dot.cpp: one node per tensor labelled "op\n(shape)", then each op's edges in input order).
// A product out (..., M, N) = a (..., M, K) @ b, or linear's out (R, N) = a (R, K) @ weight^T, does
// numel(out) x K multiply-adds, K = the last size of its first input. The textbook path (Kernels::reference)
// computes attention with matmul too; the fused op would hide its products, so the graph must not hold it.
int64_t product_flops_in_graph(const Tensor& out) {
    const std::string dot = out.to_dot();
    std::vector<std::string> op;
    std::vector<std::vector<int64_t>> shape;
    const std::regex node(R"re(n([0-9]+) \[label="([a-z_]+)\\n(\([0-9, ]*\))")re");
    for (auto it = std::sregex_iterator(dot.begin(), dot.end(), node); it != std::sregex_iterator(); ++it) {
        REQUIRE(std::stoul((*it)[1]) == op.size());  // nodes are written n0, n1, ... in order
        op.push_back((*it)[2]);
        shape.push_back(parse_shape((*it)[3]));
    }
    std::vector<int64_t> first_input(op.size(), -1);
    const std::regex edge(R"(n([0-9]+) -> n([0-9]+);)");
    for (auto it = std::sregex_iterator(dot.begin(), dot.end(), edge); it != std::sregex_iterator(); ++it) {
        const size_t to = std::stoul((*it)[2]);
        if (first_input[to] < 0) first_input[to] = std::stoll((*it)[1]);
    }
    int64_t flops = 0;
    for (size_t id = 0; id < op.size(); ++id) {
        CHECK_MESSAGE(op[id] != "scaled_dot_product_attention", "the fused attention op hides its products");
        if (op[id] != "matmul" && op[id] != "linear") continue;
        int64_t numel = 1;
        for (int64_t size : shape[id]) numel *= size;
        flops += 2 * numel * shape[size_t(first_input[id])].back();
    }
    return flops;
}

// One image through the textbook path of `model`, its products counted from the graph.
template <typename Model, typename Config>
int64_t flops_of_built_model(Config config) {
    config.kernels = Kernels::reference;
    Rng rng(0);
    Model model(config, rng);
    const Tensor images = Tensor::normal({1, config.in_channels, config.image_size, config.image_size}, 0, 1, rng);
    return product_flops_in_graph(model.forward(images, rng));
}

// A ViT with every size odd or unlike the reference's: 12x12 images of 2 channels, 3x3 patches (N = T = 16,
// mean pooling: no CLS token), D = 12, 3 heads, F = 20, 2 blocks, 7 classes.
ViTConfig odd_vit() {
    ViTConfig c;
    c.image_size = 12, c.in_channels = 2, c.patch_size = 3, c.dim = 12, c.depth = 2, c.heads = 3, c.mlp_dim = 20;
    c.num_classes = 7, c.pooling = Pooling::mean;
    return c;
}

// A Swin whose window covers a whole stage, then is clamped to a smaller grid: 24x24 images of 1 channel,
// 2x2 patches (a 12x12 grid), C0 = 6, depths {1, 2, 1}, heads {2, 3, 4}, window 6, MLP ratio 1.5, 5 classes.
// Stages: grid 12, C 6, window 6 (4 windows of 36); grid 6, C 12, one window of 36; grid 3, C 24, window 3.
SwinConfig odd_swin() {
    SwinConfig c;
    c.image_size = 24, c.in_channels = 1, c.patch_size = 2, c.embed_dim = 6, c.depths = {1, 2, 1};
    c.heads = {2, 3, 4}, c.window_size = 6, c.mlp_ratio = 1.5, c.num_classes = 5;
    return c;
}

}  // namespace

TEST_CASE("flops: the reference ViT's forward, product by product by hand") {
    // N = 64 patches, T = 65 tokens, D = 128, F = 256, 6 blocks, K = 10
    //   patch_embed  2 * 64 * 48 * 128                                          =     786,432
    //   a block      qkv 2*65*128*384 = 6,389,760; q k^T and weights @ v 2 * 2*65*65*128 = 2,163,200;
    //                proj 2*65*128*128 = 2,129,920; fc1 + fc2 2 * 2*65*128*256 = 8,519,680
    //                                                                           =  19,202,560
    //   6 blocks                                                                = 115,215,360
    //   head         2 * 128 * 10                                               =       2,560
    CHECK(ViTConfig{}.forward_flops() == 786432 + 115215360 + 2560);
    CHECK(ViTConfig{}.forward_flops() == 116004352);
}

TEST_CASE("flops: the reference Swin's forward, stage by stage by hand") {
    // patch_embed 2 * 256 * 12 * 64 = 393,216; windows of N = 16 tokens in every stage
    //   stage 0 (L 256, C 64, F 128): block 2*256*64*192 + 2 * 2*256*16*64 + 2*256*64*64 + 2 * 2*256*64*128
    //           = 6,291,456 + 1,048,576 + 2,097,152 + 8,388,608 = 17,825,792; 2 blocks 35,651,584;
    //           merging 2 * 64 * 256 * 128 = 4,194,304
    //   stage 1 (L 64, C 128, F 256): block 6,291,456 + 524,288 + 2,097,152 + 8,388,608 = 17,301,504;
    //           2 blocks 34,603,008; merging 2 * 16 * 512 * 256 = 4,194,304
    //   stage 2 (L 16, C 256, F 512): block 6,291,456 + 262,144 + 2,097,152 + 8,388,608 = 17,039,360;
    //           2 blocks 34,078,720
    //   head 2 * 256 * 10 = 5,120
    CHECK(SwinConfig{}.forward_flops() ==
          393216 + 35651584 + 4194304 + 34603008 + 4194304 + 34078720 + 5120);
    CHECK(SwinConfig{}.forward_flops() == 113120256);
}

TEST_CASE("flops: small odd configs by hand") {
    // ViT: patch_embed 2*16*18*12 = 6,912; a block qkv 2*16*12*36 = 13,824, q k^T and weights @ v
    // 2 * 2*16*16*12 = 12,288, proj 2*16*12*12 = 4,608, fc1 + fc2 2 * 2*16*12*20 = 15,360: 46,080;
    // 2 blocks 92,160; head 2*12*7 = 168
    CHECK(odd_vit().forward_flops() == 6912 + 92160 + 168);
    // Swin: patch_embed 2*144*4*6 = 6,912
    //   stage 0 (L 144, C 6, N 36, F 9): 2*144*6*18 + 2 * 2*144*36*6 + 2*144*6*6 + 2 * 2*144*6*9
    //           = 31,104 + 124,416 + 10,368 + 31,104 = 196,992; merging 2*36*24*12 = 20,736
    //   stage 1 (L 36, C 12, N 36, F 18): 31,104 + 62,208 + 10,368 + 31,104 = 134,784, 2 blocks 269,568;
    //           merging 2*9*48*24 = 20,736
    //   stage 2 (L 9, C 24, N 9, F 36): 31,104 + 7,776 + 10,368 + 31,104 = 80,352
    //   head 2*24*5 = 240
    CHECK(odd_swin().forward_flops() == 6912 + 196992 + 20736 + 269568 + 20736 + 80352 + 240);
}

TEST_CASE("flops: the published counts of DeiT-S and Swin-T, -S, -B (billions of multiply-adds)") {
    // Both count a multiply-add as one "FLOP": Swin's paper (Liu et al. 2021, table 1) gives 4.5G, 8.7G,
    // 15.4G and, at 384x384 with window 12, 47.1G; timm's model card of deit_small_patch16_224, 4.6 GMACs.
    const auto billions_of_multiply_adds = [](int64_t flops) { return std::round(double(flops) / 2e8) / 10; };
    ViTConfig deit_s;  // 224x224, 16x16 patches (196 + CLS tokens), D 384, 12 blocks of 6 heads, MLP 1536
    deit_s.image_size = 224, deit_s.patch_size = 16, deit_s.dim = 384, deit_s.depth = 12, deit_s.heads = 6;
    deit_s.mlp_dim = 1536, deit_s.num_classes = 1000;
    CHECK(billions_of_multiply_adds(deit_s.forward_flops()) == 4.6);
    SwinConfig swin_s = SwinConfig::swin_t(), swin_b = SwinConfig::swin_t();
    swin_s.depths = {2, 2, 18, 2};
    swin_b.depths = {2, 2, 18, 2}, swin_b.embed_dim = 128, swin_b.heads = {4, 8, 16, 32};
    SwinConfig swin_b_384 = swin_b;
    swin_b_384.image_size = 384, swin_b_384.window_size = 12;
    CHECK(billions_of_multiply_adds(SwinConfig::swin_t().forward_flops()) == 4.5);
    CHECK(billions_of_multiply_adds(swin_s.forward_flops()) == 8.7);
    CHECK(billions_of_multiply_adds(swin_b.forward_flops()) == 15.4);
    CHECK(billions_of_multiply_adds(swin_b_384.forward_flops()) == 47.1);
}

TEST_CASE("flops: the formula counts exactly the products a built model runs") {
    CHECK(flops_of_built_model<VisionTransformer>(ViTConfig{}) == ViTConfig{}.forward_flops());
    CHECK(flops_of_built_model<VisionTransformer>(odd_vit()) == odd_vit().forward_flops());
    CHECK(flops_of_built_model<SwinTransformer>(SwinConfig{}) == SwinConfig{}.forward_flops());
    CHECK(flops_of_built_model<SwinTransformer>(odd_swin()) == odd_swin().forward_flops());
}
