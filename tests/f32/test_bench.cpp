// `patchgrad bench --layers` (examples/cli/bench.h, bench_layers.cpp): the layer tables of the ViT block and
// the Swin stage have the names, order and shapes torch_layers.py uses; every layer's backward reaches
// every leaf; timing drops the gradients between runs instead of accumulating them; the printed line and
// the median are exactly as documented. No timing is asserted: these are correctness tests, not
// benchmarks (those run in `make bench`).
#include <fstream>
#include <sstream>

#include "examples/cli/args.h"
#include "examples/cli/bench.h"
#include "tests/helpers.h"

using namespace patchgrad;
using namespace patchgrad::cli;

namespace {

std::vector<std::string> names_of(const std::vector<LayerBench>& layers) {
    std::vector<std::string> names;
    for (const LayerBench& layer : layers) names.push_back(layer.name);
    return names;
}

// Each layer's forward gives `expected_out[k]`; a backward gives every leaf a gradient of its own shape.
void check_layers(const std::vector<LayerBench>& layers, const std::vector<Shape>& expected_out) {
    REQUIRE(layers.size() == expected_out.size());
    for (size_t k = 0; k < layers.size(); ++k) {
        INFO("layer ", layers[k].name);
        Tensor out = layers[k].forward();
        CHECK(to_string(out.shape()) == to_string(expected_out[k]));
        out.backward(out.dim() == 0 ? Tensor::ones({}) : Tensor::ones(out.shape()));
        for (const Tensor& leaf : layers[k].leaves) {
            REQUIRE(leaf.grad().defined());
            CHECK(leaf.grad().shape() == leaf.shape());
        }
    }
}

}  // namespace

TEST_CASE("bench: the ViT block's layers, at batch 2 (T = 65, C = 128, 4 heads, MLP 256)") {
    Rng rng(0);
    const std::vector<LayerBench> layers = layer_benches("vit", 2, rng);
    CHECK(names_of(layers) == std::vector<std::string>{"layer_norm", "linear_qkv", "attention", "linear_proj",
                                                        "linear_fc1", "gelu", "linear_fc2", "residual_add",
                                                        "cross_entropy"});
    CHECK(layers[1].leaves[0].shape() == Shape{130, 128});  // B*T rows
    CHECK(layers[2].leaves[0].shape() == Shape{2, 65, 384});
    check_layers(layers, {{130, 128}, {130, 384}, {2, 65, 128}, {130, 128}, {130, 256}, {130, 256}, {130, 128},
                          {2, 65, 128}, {}});
}

TEST_CASE("bench: the Swin first stage's layers, at batch 2 (16 x 16 tokens, C = 64, window 4)") {
    Rng rng(0);
    const std::vector<LayerBench> layers = layer_benches("swin", 2, rng);
    CHECK(names_of(layers) == std::vector<std::string>{"layer_norm", "roll", "window_partition", "linear_qkv",
                                                        "window_attention", "window_attention_shifted",
                                                        "linear_proj", "window_reverse", "linear_fc1", "gelu",
                                                        "linear_fc2", "residual_add", "patch_merging",
                                                        "cross_entropy"});
    // 2 images x 16 windows of 16 tokens; patch merging 256 tokens of 64 -> 64 tokens of 128
    check_layers(layers, {{512, 64}, {2, 16, 16, 64}, {32, 16, 64}, {512, 192}, {32, 16, 64}, {32, 16, 64},
                          {512, 64}, {2, 16, 16, 64}, {512, 128}, {512, 128}, {512, 64}, {2, 256, 64},
                          {2, 64, 128}, {}});
    // The relative position bias table receives a gradient through the bias (and the mask adds none).
    CHECK(layers[5].leaves[1].shape() == Shape{49, 2});
}

TEST_CASE("bench: every layer name is one tests/bench/torch_layers.py prints too") {
    std::ifstream file("tests/bench/torch_layers.py");  // tests run from the repository root (make test)
    REQUIRE_MESSAGE(file.good(), "cannot read tests/bench/torch_layers.py from the current directory");
    std::stringstream text;
    text << file.rdbuf();
    for (const std::string model : {"vit", "swin"}) {
        Rng rng(0);
        for (const LayerBench& layer : layer_benches(model, 1, rng))
            CHECK_MESSAGE(contains(text.str(), "\"" + layer.name + "\""), model, " layer ", layer.name);
    }
}

TEST_CASE("bench: an unknown model is a usage error naming it") {
    Rng rng(0);
    CHECK_THROWS_AS(layer_benches("resnet", 2, rng), UsageError);
    CHECK(thrown_message([&] { layer_benches("resnet", 2, rng); }) ==
          "bench: unknown model 'resnet' (expected vit or swin)");
}

TEST_CASE("bench: time_layer drops the gradients between runs, as zero_grad does in a training step") {
    Rng rng(0);
    const std::vector<LayerBench> layers = layer_benches("vit", 2, rng);
    const LayerBench& loss = layers.back();  // cross_entropy: a scalar, so the probe is 1
    REQUIRE(loss.name == "cross_entropy");
    const LayerTiming timing = time_layer(loss, /*steps=*/3, /*warmup=*/2);  // 5 backward passes
    CHECK(timing.output_shape.empty());
    CHECK(timing.forward_ms >= 0);
    CHECK(timing.backward_ms >= 0);
    const Tensor after_timing = loss.leaves[0].grad().clone();
    Tensor logits = loss.leaves[0];
    logits.zero_grad();
    loss.forward().backward();  // one pass
    check_close(after_timing, logits.grad(), 1e-7);  // not 5 times it
    CHECK(thrown_message([&] { time_layer(loss, 0, 0); }) == "time_layer: steps 0 must be >= 1 and warmup 0 >= 0");
}

TEST_CASE("bench: layer_line is the key=value line torch_layers.py prints") {
    const LayerBench gelu{"gelu", {Tensor::zeros({4, 8})}, [] { return Tensor(); }};
    CHECK(layer_line("vit", 2, 4, gelu, {1.23456, 2.5, {4, 8}}) ==
          "model=vit threads=2 batch=4 layer=gelu in=4x8 out=4x8 fwd_ms=1.235 bwd_ms=2.500");
    const LayerBench loss{"cross_entropy", {Tensor::zeros({4, 10})}, [] { return Tensor(); }};
    CHECK(layer_line("swin", 1, 4, loss, {0.0004, 0.01, {}}) ==
          "model=swin threads=1 batch=4 layer=cross_entropy in=4x10 out=scalar fwd_ms=0.000 bwd_ms=0.010");
}

TEST_CASE("bench: median is Python's statistics.median") {
    CHECK(median({3, 1, 2}) == 2);
    CHECK(median({4, 1, 3, 2}) == 2.5);  // the mean of the two middle values
    CHECK(median({7}) == 7);
    CHECK(thrown_message([] { median({}); }) == "median: no values");
}
