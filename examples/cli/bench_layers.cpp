// The layers `patchgrad bench --layers` times, one block's worth at the reference models' real shapes,
// and how it times them (declarations and the layer lists in bench.h; the table in docs/performance.md).
// Each layer calls the same ops the model's modules call (nn/linear.cpp, nn/layer_norm.cpp, nn/mlp.cpp,
// nn/attention.cpp, nn/swin.cpp, nn/window.cpp), on random leaves, so a layer's time is the time it takes
// inside a training step. tests/bench/torch_layers.py is the PyTorch twin of this file.
//
// Legend: B batch, T tokens, C channels, H W the token grid, M window side, N = M*M, nW windows per
// image, nH heads, K classes.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/bench.h"
#include "nn/window.h"

namespace patchgrad::cli {

namespace {

Tensor random_leaf(const Shape& shape, Rng& rng, double std = 1.0) {
    return Tensor::normal(shape, 0, static_cast<Scalar>(std), rng).requires_grad_();
}

// LayerNorm(C) on x (R, C) -> (R, C)
LayerBench layer_norm_bench(int64_t R, int64_t C, double eps, Kernels k, Rng& rng) {
    Tensor x = random_leaf({R, C}, rng), weight = random_leaf({C}, rng), bias = random_leaf({C}, rng);
    const Scalar e = static_cast<Scalar>(eps);
    if (k == Kernels::reference) return {"layer_norm", {x, weight, bias}, [=] { return layer_norm_reference(x, weight, bias, e); }};
    return {"layer_norm", {x, weight, bias}, [=] { return layer_norm(x, weight, bias, e); }};
}

// Linear(C -> OC) on x (R, C) -> (R, OC); weight (OC, C) with std 0.02 as at init
LayerBench linear_bench(const std::string& name, int64_t R, int64_t C, int64_t OC, Kernels k, Rng& rng) {
    Tensor x = random_leaf({R, C}, rng), weight = random_leaf({OC, C}, rng, 0.02);
    Tensor bias = random_leaf({OC}, rng, 0.02);
    const double flops = 2.0 * R * C * OC;  // (R, C) @ (C, OC)
    if (k == Kernels::reference)
        return {name, {x, weight, bias}, [=] { return linear_reference(x, weight, bias); }, flops};
    return {name, {x, weight, bias}, [=] { return linear(x, weight, bias); }, flops};
}

// GELU on x (R, C) -> (R, C)
LayerBench gelu_bench(int64_t R, int64_t C, Kernels k, Rng& rng) {
    Tensor x = random_leaf({R, C}, rng);
    if (k == Kernels::reference) return {"gelu", {x}, [=] { return gelu_reference(x); }};
    return {"gelu", {x}, [=] { return gelu(x); }};
}

// The residual connection: x + y, both (B, T, C)
LayerBench residual_bench(int64_t B, int64_t T, int64_t C, Rng& rng) {
    Tensor x = random_leaf({B, T, C}, rng), y = random_leaf({B, T, C}, rng);
    return {"residual_add", {x, y}, [=] { return x + y; }};
}

// The loss: cross_entropy(logits (B, K), labels (B)) -> ()
LayerBench loss_bench(int64_t B, int64_t K, Kernels k, Rng& rng) {
    Tensor logits = random_leaf({B, K}, rng);
    Tensor labels = Tensor::empty({B});
    for (int64_t i = 0; i < B; ++i) labels.data()[i] = static_cast<Scalar>(rng.randint(K));
    if (k == Kernels::reference) return {"cross_entropy", {logits}, [=] { return cross_entropy_reference(logits, labels); }};
    return {"cross_entropy", {logits}, [=] { return cross_entropy(logits, labels); }};
}

// One ViT block (nn/vit.cpp): x = x + attn(LN1(x)); x = x + MLP(LN2(x)); T = 65 tokens, C = 128,
// 4 heads of D = 32, MLP 256; then the classifier's loss over K = 10 classes.
std::vector<LayerBench> vit_layers(int64_t B, Kernels k, Rng& rng) {
    const int64_t T = 65, C = 128, heads = 4, hidden = 256, K = 10;
    Tensor qkv = random_leaf({B, T, 3 * C}, rng);  // (B, T, 3C)
    const Scalar scale = static_cast<Scalar>(1.0 / std::sqrt(static_cast<double>(C / heads)));
    auto attention = [=] {
        return k == Kernels::reference ? multi_head_attention_reference(qkv, heads, Tensor(), scale)
                                       : multi_head_attention(qkv, heads, Tensor(), scale);
    };
    const double attention_flops = 2 * (2.0 * B * T * T * C);  // q k^T, weights @ v: 2 B T T C each (H heads of C/H)
    return {layer_norm_bench(B * T, C, 1e-6, k, rng),
            linear_bench("linear_qkv", B * T, C, 3 * C, k, rng),
            {"attention", {qkv}, attention, attention_flops},
            linear_bench("linear_proj", B * T, C, C, k, rng),
            linear_bench("linear_fc1", B * T, C, hidden, k, rng),
            gelu_bench(B * T, hidden, k, rng),
            linear_bench("linear_fc2", B * T, hidden, C, k, rng),
            residual_bench(B, T, C, rng),
            loss_bench(B, K, k, rng)};
}

// Window attention (WindowAttention::forward in nn/swin.cpp without its two Linears): the relative
// position bias read from the table, plus the shifted-window mask when `shifted`, then the fused
// attention. qkv (B*nW, N, 3C) -> (B*nW, N, C)
LayerBench window_attention_bench(int64_t B, int64_t grid, int64_t C, int64_t heads, int64_t M, bool shifted,
                                  Kernels k, Rng& rng) {
    const int64_t N = M * M, nW = (grid / M) * (grid / M);
    Tensor qkv = random_leaf({B * nW, N, 3 * C}, rng);
    Tensor table = random_leaf({(2 * M - 1) * (2 * M - 1), heads}, rng, 0.02);  // ((2M-1)^2, nH)
    const Tensor index = relative_position_index(M);                            // (N, N)
    const Tensor mask = shifted ? shifted_window_mask(grid, grid, M, M / 2) : Tensor();  // (nW, N, N)
    const Scalar scale = static_cast<Scalar>(1.0 / std::sqrt(static_cast<double>(C / heads)));
    auto forward = [=] {
        Tensor bias = reshape(relative_position_bias(table, index), {1, heads, N, N});  // (1, nH, N, N)
        if (mask.defined()) bias = bias + reshape(mask, {nW, 1, N, N});  // (nW, nH, N, N): repeated over B
        return k == Kernels::reference ? multi_head_attention_reference(qkv, heads, bias, scale)
                                       : multi_head_attention(qkv, heads, bias, scale);
    };
    const double flops = 2 * (2.0 * B * nW * N * N * C);  // q k^T, weights @ v: 2 B nW N N C each
    return {shifted ? "window_attention_shifted" : "window_attention", {qkv, table}, forward, flops};
}

// The first stage of the tiny Swin (nn/swin.cpp): a 16 x 16 token grid, C = 64, 2 heads, window 4
// (16 windows of N = 16 tokens per image), shift 2 in the second block, MLP 128, then patch merging
// (B, 256, 64) -> (B, 64, 128); and the classifier's loss over K = 10 classes.
std::vector<LayerBench> swin_layers(int64_t B, Kernels k, Rng& rng) {
    const int64_t grid = 16, C = 64, heads = 2, M = 4, hidden = 128, K = 10, R = B * grid * grid;
    Tensor grid_x = random_leaf({B, grid, grid, C}, rng);                         // (B, H, W, C)
    Tensor grid_y = random_leaf({B, grid, grid, C}, rng);                         // (B, H, W, C)
    Tensor windows = random_leaf({B * (grid / M) * (grid / M), M * M, C}, rng);   // (B*nW, N, C)
    Tensor tokens = random_leaf({B, grid * grid, C}, rng);                        // (B, H*W, C)
    Tensor merge_norm_weight = random_leaf({4 * C}, rng), merge_norm_bias = random_leaf({4 * C}, rng);
    Tensor reduction = random_leaf({2 * C, 4 * C}, rng, 0.02);                    // (2C, 4C), no bias
    auto patch_merging = [=] {
        if (k == Kernels::reference) {
            Tensor merged = patch_merging_gather_reference(tokens, grid, grid);   // (B, H/2*W/2, 4C)
            return linear_reference(layer_norm_reference(merged, merge_norm_weight, merge_norm_bias, Scalar(1e-5)),
                                    reduction, Tensor());
        }
        Tensor merged = patch_merging_gather(tokens, grid, grid);                 // (B, H/2*W/2, 4C)
        return linear(layer_norm(merged, merge_norm_weight, merge_norm_bias, Scalar(1e-5)), reduction, Tensor());
    };
    return {layer_norm_bench(R, C, 1e-5, k, rng),
            {"roll", {grid_x}, [=] { return cyclic_shift(grid_x, M / 2); }},
            {"window_partition", {grid_y}, [=] { return window_partition(grid_y, M); }},
            linear_bench("linear_qkv", R, C, 3 * C, k, rng),
            window_attention_bench(B, grid, C, heads, M, false, k, rng),
            window_attention_bench(B, grid, C, heads, M, true, k, rng),
            linear_bench("linear_proj", R, C, C, k, rng),
            {"window_reverse", {windows}, [=] { return window_reverse(windows, M, grid, grid); }},
            linear_bench("linear_fc1", R, C, hidden, k, rng),
            gelu_bench(R, hidden, k, rng),
            linear_bench("linear_fc2", R, hidden, C, k, rng),
            residual_bench(B, grid * grid, C, rng),
            {"patch_merging", {tokens, merge_norm_weight, merge_norm_bias, reduction}, patch_merging,
             2.0 * (R / 4) * (4 * C) * (2 * C)},  // the reduction (B*H/2*W/2, 4C) @ (4C, 2C)
            loss_bench(B, K, k, rng)};
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// (8320, 128) -> "8320x128"; () -> "scalar"
std::string shape_text(const Shape& shape) {
    if (shape.empty()) return "scalar";
    std::string text;
    for (size_t i = 0; i < shape.size(); ++i) {
        if (i > 0) text += 'x';
        text += std::to_string(shape[i]);
    }
    return text;
}

}  // namespace

std::vector<LayerBench> layer_benches(const std::string& model, int64_t batch, Rng& rng, Kernels kernels) {
    if (model == "vit") return vit_layers(batch, kernels, rng);
    if (model == "swin") return swin_layers(batch, kernels, rng);
    throw UsageError("bench: unknown model '" + model + "' (expected vit or swin)");
}

LayerTiming time_layer(const LayerBench& layer, int64_t steps, int64_t warmup) {
    check(steps >= 1 && warmup >= 0, "time_layer: steps ", steps, " must be >= 1 and warmup ", warmup, " >= 0");
    std::vector<double> forward_ms, backward_ms;
    Tensor probe;  // d(loss)/d(out): fixed random numbers, made once
    Shape output_shape;
    Rng rng(1);
    for (int64_t i = 0; i < warmup + steps; ++i) {
        for (Tensor leaf : layer.leaves) leaf.zero_grad();
        const auto start = std::chrono::steady_clock::now();
        Tensor out = layer.forward();
        const double forward_time = milliseconds_since(start);
        if (!probe.defined()) {
            output_shape = out.shape();
            probe = out.dim() == 0 ? Tensor::ones({}) : Tensor::normal(out.shape(), 0, 1, rng);
        }
        const auto backward_start = std::chrono::steady_clock::now();
        out.backward(probe);
        const double backward_time = milliseconds_since(backward_start);
        if (i >= warmup) {
            forward_ms.push_back(forward_time);
            backward_ms.push_back(backward_time);
        }
    }
    return {median(forward_ms), median(backward_ms), output_shape};
}

double layer_gflop_s(const LayerBench& layer, const LayerTiming& timing) {
    return 3 * layer.forward_flops / (timing.forward_ms + timing.backward_ms) / 1e6;  // flops per ms / 1e6
}

std::string layer_line(const std::string& model, int64_t threads, int64_t batch, const LayerBench& layer,
                       const LayerTiming& timing, double peak_gflop_s) {
    char times[64], rate[64] = "gflop_s=- peak_frac=-";
    std::snprintf(times, sizeof times, "fwd_ms=%.3f bwd_ms=%.3f", timing.forward_ms, timing.backward_ms);
    if (layer.forward_flops > 0) {
        const double gflop_s = layer_gflop_s(layer, timing);
        std::snprintf(rate, sizeof rate, "gflop_s=%.1f peak_frac=%.3f", gflop_s, gflop_s / peak_gflop_s);
    }
    return "model=" + model + " threads=" + std::to_string(threads) + " batch=" + std::to_string(batch) +
           " layer=" + layer.name + " in=" + shape_text(layer.leaves.at(0).shape()) +
           " out=" + shape_text(timing.output_shape) + " " + times + " " + rate;
}

double median(std::vector<double> values) {
    check(!values.empty(), "median: no values");
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

}  // namespace patchgrad::cli
