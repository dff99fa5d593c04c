// patchgrad predict: the top classes a checkpoint's model sees in one image.
//
//   patchgrad predict --checkpoint runs/default/best.safetensors cat.ppm
//   patchgrad predict --checkpoint runs/default/best.safetensors --index 7 --json
//
// An image file (binary PPM or PGM, any size: datasets/image_file.h) is converted to the model's channels
// (colour -> grey by BT.601 luma for an MNIST model; grey -> colour by repeating it for a CIFAR-10 model),
// resized to the model's input (bilinear), and normalised with the training set's mean and std, exactly
// as the training images were. --index N takes test example N instead and also prints its true label.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/ops.h"
#include "datasets/image_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/input_image.h"

namespace patchgrad::cli {

namespace {

// A probability as "%.9g" would print it (9 significant digits: a float's full precision), as a double.
double nine_digits(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.9g", value);
    return std::strtod(text, nullptr);
}

}  // namespace

int run_predict(int argc, char** argv) {
    InputFlags input_flags;
    int64_t top = 5, threads = 2;
    bool json = false, reference = false;
    ArgParser args("patchgrad predict", "The most likely classes, with probabilities, for an image (binary PPM/PGM, "
                                        "any size) or a test-set\nexample, by a checkpoint's model.");
    add_input_flags(args, input_flags);
    args.option("--top", &top, "how many classes to list", 1, 1000);
    args.option("--threads", &threads, "OpenMP threads", 1, 1024);
    args.flag("--json", &json, "machine-readable output, with every class's probability");
    args.flag("--reference", &reference, "run every layer's textbook twin instead of its fused kernel (docs/models.md)");
    if (!args.parse(argc, argv)) return 0;
    check_input_flags(args, input_flags);
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(threads));
#endif

    const Checkpoint ckpt = read_checkpoint(input_flags.checkpoint);
    TrainConfig config = ckpt.config;
    if (!input_flags.data.empty()) config.data = input_flags.data;
    const int64_t K = config.num_classes;

    // The input as a one-image dataset, so it goes through the very normalisation the training used.
    const InputImage input = load_input_image(config, ckpt.class_names, input_flags.image(), input_flags.index);
    const std::string& described = input.described;
    const int64_t label = input.label;
    Rng unused(0);

    std::unique_ptr<ImageClassifier> model =
        model_from_checkpoint(ckpt, reference ? Kernels::reference : Kernels::fast);
    std::vector<double> probabilities(K);
    {
        NoGradGuard no_grad;
        const Tensor p = softmax(model->forward(normalized_input(input, config), unused), -1);  // (1, K)
        for (int64_t k = 0; k < K; ++k) probabilities[k] = p.data()[k];
    }
    std::vector<int64_t> order(K);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return probabilities[a] > probabilities[b]; });
    top = std::min(top, K);

    if (json) {
        Json out = Json::object(), ranked = Json::array(), all = Json::object();
        out.set("checkpoint", ckpt.path).set("input", described);
        if (label >= 0)
            out.set("index", input_flags.index).set("label", label).set("label_name", ckpt.class_names[label]);
        for (int64_t i = 0; i < top; ++i) {
            Json entry = Json::object();
            entry.set("class", order[i]).set("name", ckpt.class_names[order[i]]);
            entry.set("probability", nine_digits(probabilities[order[i]]));
            ranked.push_back(entry);
        }
        for (int64_t k = 0; k < K; ++k) all.set(ckpt.class_names[k], nine_digits(probabilities[k]));
        out.set("top", ranked).set("probabilities", all);
        std::printf("%s\n", out.dump(2).c_str());
        return 0;
    }
    std::printf("%s: %s\n", ckpt.path.c_str(), described.c_str());
    if (label >= 0) std::printf("true class: %s (%lld)\n", ckpt.class_names[label].c_str(), static_cast<long long>(label));
    for (int64_t i = 0; i < top; ++i)
        std::printf("%2lld. %-14s %7.3f%%\n", static_cast<long long>(i + 1), ckpt.class_names[order[i]].c_str(),
                    100 * probabilities[order[i]]);
    return 0;
}

}  // namespace patchgrad::cli
