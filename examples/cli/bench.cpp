// patchgrad bench: the speed of one training step (forward + backward + AdamW) and of inference for the
// reference tiny ViT or tiny Swin, on random input, printed in the key=value form of
// ../shared/bench/torch_ref.py so the two can be compared side by side (tests/bench/compare_models.sh).
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "optim/adam.h"

namespace patchgrad::cli {

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
}

}  // namespace

int run_bench(int argc, char** argv) {
    std::string model_name = "vit";
    int64_t batch = 128, threads = 2, steps = 12, warmup = 3;
    ArgParser args("patchgrad bench", "Times a training step (forward + backward + AdamW) and an inference pass of "
                                      "the reference tiny ViT or Swin\non random input, after a warm-up; prints the "
                                      "median as images per second, and the peak memory.");
    args.option("--model", &model_name, "the reference model", {"vit", "swin"});
    args.option("--batch", &batch, "images per step", 1, 4096);
    args.option("--threads", &threads, "OpenMP threads", 1, 256);
    args.option("--steps", &steps, "timed steps", 1, 10000);
    args.option("--warmup", &warmup, "untimed steps first", 0, 10000);
    if (!args.parse(argc, argv)) return 0;
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(threads));
#else
    threads = 1;
#endif

    Rng rng(0);
    std::unique_ptr<ImageClassifier> model;
    if (model_name == "vit")
        model = std::make_unique<VisionTransformer>(ViTConfig{}, rng);
    else
        model = std::make_unique<SwinTransformer>(SwinConfig{}, rng);
    AdamW optimizer(model->named_parameters(), 1e-3, 0.9, 0.999, 1e-8, 0.05);
    const Tensor images = Tensor::normal({batch, 3, 32, 32}, 0, 1, rng);
    Tensor labels = Tensor::empty({batch});
    for (int64_t i = 0; i < batch; ++i) labels.data()[i] = static_cast<Scalar>(rng.randint(10));

    model->train();
    std::vector<double> train_times;
    for (int64_t i = 0; i < warmup + steps; ++i) {
        const auto start = std::chrono::steady_clock::now();
        optimizer.zero_grad();
        Tensor loss = cross_entropy(model->forward(images, rng), labels);
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
    std::printf("model=%s params=%lld threads=%lld batch=%lld train_img_s=%.1f infer_img_s=%.1f peak_rss_mb=%ld\n",
                model_name.c_str(), static_cast<long long>(model->parameter_count()), static_cast<long long>(threads),
                static_cast<long long>(batch), batch / median(train_times), batch / median(infer_times),
                usage.ru_maxrss / 1024);
    return 0;
}

}  // namespace patchgrad::cli
