// patchgrad bench: the speed of one training step (forward + backward + AdamW) and of inference for the
// reference tiny ViT or tiny Swin, on random input, printed in the key=value form of
// ../shared/bench/torch_ref.py so the two can be compared side by side (tests/bench/bench_all.sh, run by
// `make bench`; docs/performance.md), then the distance to the machine's limit: the flops of the matrix
// products per second (the forward's from ViTConfig::forward_flops or SwinConfig's, 3x that for a
// training step) and their fraction of the FMA peak, measured first on the same threads (core/fma_peak.h;
// docs/performance.md, "The distance to the peak").
//
// With --layers it times instead each layer kind of one block (the ViT's, or the Swin's first stage),
// forward and backward apart, one key=value line per layer as tests/bench/torch_layers.py prints them
// (the layers and how they are timed: bench.h, bench_layers.cpp). With --peak it runs the probe alone.
#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/fma_peak.h"
#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/bench.h"
#include "examples/cli/commands.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "optim/adam.h"

namespace patchgrad::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// --peak: "peak_gflop_s=236.4 threads=2 vector_bits=512 chains=16"
void print_peak(const FmaPeak& peak) {
    std::printf("peak_gflop_s=%.1f threads=%lld vector_bits=%lld chains=%lld\n", peak.gflop_s,
                static_cast<long long>(peak.threads), static_cast<long long>(peak.vector_bits),
                static_cast<long long>(peak.chains));
}

// --layers: one line per layer kind of `model_name` at this batch (bench.h).
void print_layer_times(const std::string& model_name, int64_t batch, int64_t threads, int64_t steps,
                       int64_t warmup, const FmaPeak& peak) {
    Rng rng(0);
    for (const LayerBench& layer : layer_benches(model_name, batch, rng)) {
        const LayerTiming timing = time_layer(layer, steps, warmup);
        std::printf("%s\n", layer_line(model_name, threads, batch, layer, timing, peak.gflop_s).c_str());
        std::fflush(stdout);
    }
}

// A fraction of the peak for the table, "0.553"; "-" for a layer without products.
std::string peak_fraction(const LayerBench& layer, const LayerTiming& timing, const FmaPeak& peak) {
    if (layer.forward_flops == 0) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.3f", layer_gflop_s(layer, timing) / peak.gflop_s);
    return text;
}

// --layers --reference: each layer's fast kernel against its textbook twin, on the same inputs: what the
// fast path buys, layer by layer. The two lists draw their inputs from equal Rngs, so they match.
// The last column: the fast kernel's product flops per second (bench.h, layer_line) over the FMA peak.
void print_layer_comparison(const std::string& model_name, int64_t batch, int64_t threads, int64_t steps,
                            int64_t warmup, const FmaPeak& peak) {
    Rng fast_rng(0), reference_rng(0);
    const std::vector<LayerBench> fast = layer_benches(model_name, batch, fast_rng, Kernels::fast);
    const std::vector<LayerBench> reference = layer_benches(model_name, batch, reference_rng, Kernels::reference);
    std::printf("%s, batch %lld, %lld threads: milliseconds per call (median of %lld), fast kernel vs textbook twin;"
                " fast/peak: of the FMA peak, %.1f GFLOP/s\n",
                model_name.c_str(), static_cast<long long>(batch), static_cast<long long>(threads),
                static_cast<long long>(steps), peak.gflop_s);
    std::printf("%-26s %10s %10s %10s %10s %8s %9s\n", "layer", "fast fwd", "fast bwd", "ref fwd", "ref bwd", "speedup",
                "fast/peak");
    double fast_total = 0, reference_total = 0, flops_total = 0;
    for (size_t i = 0; i < fast.size(); ++i) {
        const LayerTiming f = time_layer(fast[i], steps, warmup);
        const LayerTiming r = time_layer(reference[i], steps, warmup);
        const double f_ms = f.forward_ms + f.backward_ms, r_ms = r.forward_ms + r.backward_ms;
        fast_total += f_ms;
        reference_total += r_ms;
        flops_total += 3 * fast[i].forward_flops;
        std::printf("%-26s %10.3f %10.3f %10.3f %10.3f %7.2fx %9s\n", fast[i].name.c_str(), f.forward_ms,
                    f.backward_ms, r.forward_ms, r.backward_ms, r_ms / f_ms, peak_fraction(fast[i], f, peak).c_str());
        std::fflush(stdout);
    }
    std::printf("%-26s %21.3f %21.3f %7.2fx %9.3f\n", "all layers, fwd + bwd", fast_total, reference_total,
                reference_total / fast_total, flops_total / fast_total / 1e6 / peak.gflop_s);
}

}  // namespace

int run_bench(int argc, char** argv) {
    std::string model_name = "vit";
    int64_t batch = 128, threads = 2, steps = 12, warmup = 3;
    bool layers = false, reference = false, peak_only = false;
    ArgParser args("patchgrad bench",
                   "Times a training step (forward + backward + AdamW) and an inference pass of the reference tiny "
                   "ViT or Swin\non random input, after a warm-up; prints the median as images per second, the "
                   "peak memory, and the\nflops of the matrix products per second (a training step's counted as 3x "
                   "the forward's) with their\nfraction of this machine's FMA peak, measured first on the same "
                   "threads. With --layers: the median\nforward and backward milliseconds of each layer of one "
                   "block, one line per layer, with the same\nrate and fraction for the layers that multiply "
                   "matrices. With --peak: the FMA peak alone.");
    args.option("--model", &model_name, "the reference model", {"vit", "swin"});
    args.option("--batch", &batch, "images per step", 1, 4096);
    args.option("--threads", &threads, "OpenMP threads", 1, 256);
    args.option("--steps", &steps, "timed steps", 1, 10000);
    args.option("--warmup", &warmup, "untimed steps first", 0, 10000);
    args.flag("--layers", &layers, "time each layer of one block instead, forward and backward apart");
    args.flag("--reference", &reference, "the textbook twins of every layer (with --layers: both, side by side)");
    args.flag("--peak", &peak_only, "measure only this machine's FMA peak on --threads threads (core/fma_peak.h)");
    if (!args.parse(argc, argv)) return 0;
    if (peak_only)
        for (const char* other : {"--model", "--batch", "--steps", "--warmup", "--layers", "--reference"})
            if (args.given(other))
                throw UsageError(std::string("patchgrad bench: --peak measures the machine alone, without ") + other);
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(threads));
#else
    threads = 1;
#endif
    const FmaPeak peak = measure_fma_peak(threads);  // before the timing, on the same threads
    if (peak_only) {
        print_peak(peak);
        return 0;
    }
    if (layers) {
        if (reference)
            print_layer_comparison(model_name, batch, threads, steps, warmup, peak);
        else
            print_layer_times(model_name, batch, threads, steps, warmup, peak);
        return 0;
    }
    const Kernels kernels = reference ? Kernels::reference : Kernels::fast;

    Rng rng(0);
    std::unique_ptr<ImageClassifier> model;
    int64_t forward_flops = 0;  // one image's matrix products
    if (model_name == "vit") {
        ViTConfig config;
        config.kernels = kernels;
        forward_flops = config.forward_flops();
        model = std::make_unique<VisionTransformer>(config, rng);
    } else {
        SwinConfig config;
        config.kernels = kernels;
        forward_flops = config.forward_flops();
        model = std::make_unique<SwinTransformer>(config, rng);
    }
    AdamW optimizer(model->named_parameters(), 1e-3, 0.9, 0.999, 1e-8, 0.05);
    const Tensor images = Tensor::normal({batch, 3, 32, 32}, 0, 1, rng);
    Tensor labels = Tensor::empty({batch});
    for (int64_t i = 0; i < batch; ++i) labels.data()[i] = static_cast<Scalar>(rng.randint(10));

    model->train();
    std::vector<double> train_times;
    for (int64_t i = 0; i < warmup + steps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        optimizer.zero_grad();
        const Tensor logits = model->forward(images, rng);
        Tensor loss = reference ? cross_entropy_reference(logits, labels) : cross_entropy(logits, labels);
        loss.backward();
        optimizer.step();
        if (i >= warmup) train_times.push_back(seconds_since(start));
    }
    model->eval();
    std::vector<double> infer_times;
    for (int64_t i = 0; i < warmup + steps; ++i) {
        NoGradGuard no_grad;
        const auto start = std::chrono::steady_clock::now();
        model->forward(images, rng);
        if (i >= warmup) infer_times.push_back(seconds_since(start));
    }
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    // A training step's products: the forward's, and two of the same size in the backward for each (nn/vit.h)
    const double train_gflop_s = 3.0 * double(forward_flops) * double(batch) / median(train_times) / 1e9;
    const double infer_gflop_s = double(forward_flops) * double(batch) / median(infer_times) / 1e9;
    std::printf("model=%s%s params=%lld threads=%lld batch=%lld train_img_s=%.1f infer_img_s=%.1f peak_rss_mb=%ld "
                "train_gflop_s=%.1f infer_gflop_s=%.1f peak_gflop_s=%.1f train_peak_frac=%.3f infer_peak_frac=%.3f\n",
                model_name.c_str(), reference ? " kernels=reference" : "", static_cast<long long>(model->parameter_count()),
                static_cast<long long>(threads), static_cast<long long>(batch), batch / median(train_times),
                batch / median(infer_times), usage.ru_maxrss / 1024, train_gflop_s, infer_gflop_s, peak.gflop_s,
                train_gflop_s / peak.gflop_s, infer_gflop_s / peak.gflop_s);
    return 0;
}

}  // namespace patchgrad::cli
