// `patchgrad bench` and `bench --layers` (examples/cli/bench.cpp, bench.h, bench_layers.cpp): the layer
// tables of the ViT block and the Swin stage have the names, order and shapes torch_layers.py uses; every
// layer's backward reaches every leaf; timing drops the gradients between runs instead of accumulating
// them; the product flops each layer counts; the printed lines (their keys, their order, the rates and
// fractions of the peak agreeing with the times) and the median are exactly as documented. No speed is
// asserted: these are correctness tests, not benchmarks (those run in `make bench`).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>

#include "core/simd.h"
#include "examples/cli/args.h"
#include "examples/cli/bench.h"
#include "examples/cli/commands.h"
#include "nn/vit.h"
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

// Runs `patchgrad bench WORDS...` in-process; returns what it printed on stdout (bench writes with printf,
// so file descriptor 1 itself goes to a temporary file while it runs).
std::string printed_by(int (*command)(int, char**), std::vector<std::string> words) {
    words.insert(words.begin(), {"patchgrad", "bench"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    std::FILE* file = std::tmpfile();
    REQUIRE(file != nullptr);
    std::fflush(stdout);
    const int saved = dup(1);
    dup2(fileno(file), 1);
    auto restore = [&] {
        std::fflush(stdout);
        dup2(saved, 1);
        close(saved);
    };
    try {
        command(static_cast<int>(argv.size()), argv.data());
    } catch (...) {
        restore();
        std::fclose(file);
        throw;
    }
    restore();
    std::rewind(file);
    std::string text;
    for (int c = std::fgetc(file); c != EOF; c = std::fgetc(file)) text += static_cast<char>(c);
    std::fclose(file);
    return text;
}

// "a=1 b=x\n" -> {"a", "b"}, in order
std::vector<std::string> keys_in_order(const std::string& line) {
    std::vector<std::string> keys;
    std::istringstream words(line);
    for (std::string word; words >> word;) keys.push_back(word.substr(0, word.find('=')));
    return keys;
}

// "a=1 b=x\n" -> {a: "1", b: "x"}
std::map<std::string, std::string> key_values(const std::string& line) {
    std::map<std::string, std::string> values;
    std::istringstream words(line);
    for (std::string word; words >> word;) values[word.substr(0, word.find('='))] = word.substr(word.find('=') + 1);
    return values;
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

TEST_CASE("bench: layer_line is the key=value line torch_layers.py prints, then the rate of its products") {
    const LayerBench gelu{"gelu", {Tensor::zeros({4, 8})}, [] { return Tensor(); }};
    CHECK(layer_line("vit", 2, 4, gelu, {1.23456, 2.5, {4, 8}}, 100) ==
          "model=vit threads=2 batch=4 layer=gelu in=4x8 out=4x8 fwd_ms=1.235 bwd_ms=2.500 gflop_s=- peak_frac=-");
    const LayerBench loss{"cross_entropy", {Tensor::zeros({4, 10})}, [] { return Tensor(); }};
    CHECK(layer_line("swin", 1, 4, loss, {0.0004, 0.01, {}}, 100) ==
          "model=swin threads=1 batch=4 layer=cross_entropy in=4x10 out=scalar fwd_ms=0.000 bwd_ms=0.010 "
          "gflop_s=- peak_frac=-");
    // 1e6 forward flops, 3e6 with the backward, in 1 + 2 ms: 1e9 flops per second, a quarter of a peak of 4
    const LayerBench product{"linear_fc1", {Tensor::zeros({4, 8})}, [] { return Tensor(); }, 1e6};
    CHECK(layer_gflop_s(product, {1, 2, {4, 16}}) == doctest::Approx(1.0));
    CHECK(layer_line("vit", 2, 4, product, {1, 2, {4, 16}}, 4) ==
          "model=vit threads=2 batch=4 layer=linear_fc1 in=4x8 out=4x16 fwd_ms=1.000 bwd_ms=2.000 gflop_s=1.0 "
          "peak_frac=0.250");
}

TEST_CASE("bench: the layers that multiply matrices count their products' flops, the others none") {
    Rng rng(0);
    const std::vector<LayerBench> vit = layer_benches("vit", 2, rng);  // 130 rows of 128
    std::map<std::string, double> flops;
    for (const LayerBench& layer : vit) flops[layer.name] = layer.forward_flops;
    CHECK(flops["linear_qkv"] == 2.0 * 130 * 128 * 384);
    CHECK(flops["attention"] == 2 * 2.0 * 2 * 65 * 65 * 128);  // q k^T and weights @ v, 2 images of 65 tokens
    CHECK(flops["linear_proj"] == 2.0 * 130 * 128 * 128);
    CHECK(flops["linear_fc1"] == 2.0 * 130 * 128 * 256);
    CHECK(flops["linear_fc2"] == 2.0 * 130 * 256 * 128);
    for (const char* memory_bound : {"layer_norm", "gelu", "residual_add", "cross_entropy"})
        CHECK_MESSAGE(flops[memory_bound] == 0, memory_bound);
    // The block's layers are one block of the model's formula: (all - patch embedding - head) / depth, per image
    const ViTConfig config;
    const double block = double(config.forward_flops() - 2 * 64 * 48 * 128 - 2 * 128 * 10) / config.depth;
    CHECK(flops["linear_qkv"] + flops["attention"] + flops["linear_proj"] + flops["linear_fc1"] +
              flops["linear_fc2"] == 2 * block);

    flops.clear();
    for (const LayerBench& layer : layer_benches("swin", 2, rng)) flops[layer.name] = layer.forward_flops;
    CHECK(flops["window_attention"] == 2 * 2.0 * (2 * 16) * 16 * 16 * 64);  // 32 windows of 16 tokens, C 64
    CHECK(flops["window_attention_shifted"] == flops["window_attention"]);
    CHECK(flops["patch_merging"] == 2.0 * 128 * 256 * 128);  // (2 * 64 tokens, 4C) @ (4C, 2C)
    for (const char* memory_bound : {"roll", "window_partition", "window_reverse", "gelu", "layer_norm"})
        CHECK_MESSAGE(flops[memory_bound] == 0, memory_bound);
}

TEST_CASE("bench: the model line keeps its keys first and adds the product rate and the peak") {
    const std::string line = printed_by(run_bench, {"--batch", "2", "--steps", "1", "--warmup", "0", "--threads", "1"});
    const std::vector<std::string> keys = {"model", "params", "threads", "batch", "train_img_s", "infer_img_s",
                                           "peak_rss_mb", "train_gflop_s", "infer_gflop_s", "peak_gflop_s",
                                           "train_peak_frac", "infer_peak_frac"};
    const std::map<std::string, std::string> values = key_values(line);
    CHECK(keys_in_order(line) == keys);
    // images/s x flops per image = flops/s: 3 x 116,004,352 flops a training image, 116,004,352 an inference.
    // Each rate is printed rounded to 0.1 and each fraction to 0.001, so the products agree within the sum of
    // those roundings (a slow build, a few images a second, makes them a large part of the value).
    const double flops_per_image = 116004352 / 1e9, half_tenth = 0.05, half_thousandth = 0.0005;
    const double train = std::stod(values.at("train_img_s")), infer = std::stod(values.at("infer_img_s"));
    const double train_gflop_s = std::stod(values.at("train_gflop_s"));
    const double infer_gflop_s = std::stod(values.at("infer_gflop_s"));
    CHECK(train_gflop_s > 0);
    CHECK(std::abs(train_gflop_s - train * 3 * flops_per_image) <= half_tenth + half_tenth * 3 * flops_per_image);
    CHECK(std::abs(infer_gflop_s - infer * flops_per_image) <= half_tenth + half_tenth * flops_per_image);
    const double peak = std::stod(values.at("peak_gflop_s"));
    REQUIRE(peak > (running_under_emulator() ? 0.1 : 1));  // QEMU emulates each FMA: 0.3 GFLOP/s
    // frac = gflop / peak, with gflop and peak each off by up to 0.05: |d frac| <= 0.05 / peak + gflop 0.05 / peak^2
    const double train_frac = std::stod(values.at("train_peak_frac"));
    CHECK(std::abs(train_frac - train_gflop_s / peak) <=
          half_thousandth + half_tenth / (peak - half_tenth) + train_gflop_s * half_tenth / ((peak - half_tenth) * peak));
}

TEST_CASE("bench: --peak prints the probe alone, and refuses the flags of the other measurements") {
    const std::string line = printed_by(run_bench, {"--peak", "--threads", "1"});
    CHECK(keys_in_order(line) == std::vector<std::string>{"peak_gflop_s", "threads", "vector_bits", "chains"});
    CHECK(key_values(line).at("vector_bits") == std::to_string(8 * kVectorBytes));
    CHECK(std::stod(key_values(line).at("peak_gflop_s")) > 0);
    for (const std::string flag : {"--layers", "--reference"})
        CHECK(thrown_message([&] { printed_by(run_bench, {"--peak", flag}); }) ==
              "patchgrad bench: --peak measures the machine alone, without " + flag);
    CHECK(thrown_message([&] { printed_by(run_bench, {"--peak", "--batch", "4"}); }) ==
          "patchgrad bench: --peak measures the machine alone, without --batch");
}

TEST_CASE("bench: --layers lines carry the rate for products and '-' for the memory-bound layers") {
    const std::string text = printed_by(run_bench, {"--layers", "--batch", "1", "--steps", "1", "--warmup", "0",
                                                    "--threads", "1"});
    std::istringstream lines(text);
    std::string line;
    int count = 0;
    while (std::getline(lines, line)) {
        ++count;
        const std::map<std::string, std::string> values = key_values(line);
        const bool product = contains(line, "layer=linear_") || contains(line, "layer=attention ");
        CHECK_MESSAGE((values.at("gflop_s") != "-") == product, line);
        CHECK_MESSAGE((values.at("peak_frac") != "-") == product, line);
    }
    CHECK(count == 9);
}

TEST_CASE("bench: median is Python's statistics.median") {
    CHECK(median({3, 1, 2}) == 2);
    CHECK(median({4, 1, 3, 2}) == 2.5);  // the mean of the two middle values
    CHECK(median({7}) == 7);
    CHECK(thrown_message([] { median({}); }) == "median: no values");
}
