// patchgrad eval: a checkpoint's accuracy on the test set (or its run's validation split), per class, and
// the confusion matrix.
//
//   patchgrad eval --checkpoint runs/default/best.safetensors [--data data] [--split test|val] [--json]
//
// The model is rebuilt from the config stored in the checkpoint (examples/cli/checkpoint.h), so no
// shape flag is needed; the images are read from --data (the checkpoint's own data folder by default).
// --split val evaluates the images the run held out (--val, drawn again from its seed: config.h, run_seeds),
// so a change of evaluation (--eval-flip) can be chosen without the test set.
#include <cmath>
#include <cstdio>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/ops.h"
#include "datasets/augment.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"

namespace patchgrad::cli {

// Test-time augmentation with the mirror image (docs/data.md, "Evaluating the mirror image too"): a model
// trained on randomly flipped images has learned both orientations, and its two answers for one image
// err partly apart; their average errs less. The logits are averaged, not the probabilities: the mean of
// two logit vectors is the log of the normalised geometric mean of the two distributions, and the loss
// below is the cross-entropy of those averaged logits.
Tensor evaluation_logits(ImageClassifier& model, const Tensor& images, bool eval_flip) {
    Rng unused(0);  // eval mode draws nothing (dropout is off)
    const Tensor logits = model.forward(images, unused);  // (B, K)
    if (!eval_flip) return logits;
    const Tensor mirrored_logits = model.forward(mirror_left_right(images), unused);  // (B, K)
    return (logits + mirrored_logits) * Scalar(0.5);
}

EvalResult evaluate(ImageClassifier& model, const DataLoader& loader, int64_t num_classes, const EvalOptions& options) {
    // An accuracy over no images would print as 0.00% and mean nothing.
    check_io(loader.size() > 0, "evaluate: the test set is empty (0 images), expected at least 1");
    NoGradGuard no_grad;
    model.eval();
    Rng unused(0);  // the loader's batch(k, rng) draws nothing without augmentation
    const int64_t K = num_classes;
    EvalResult result;
    result.num_classes = K;
    result.confusion.assign(K * K, 0);
    double loss_sum = 0;
    int64_t correct = 0;
    for (int64_t k = 0; k < loader.batches_per_epoch(); ++k) {
        if (options.watch_stop_request && stop_requested()) {
            result.interrupted = true;
            return result;
        }
        const Batch batch = loader.batch(k, unused);
        const Tensor logits = evaluation_logits(model, batch.images, options.eval_flip);  // (B, K)
        const int64_t B = logits.size(0);
        check(logits.size(1) == K, "evaluate: the model gives ", logits.shape(), " logits, expected ", K, " classes");
        const Tensor loss = model.kernels() == Kernels::reference ? cross_entropy_reference(logits, batch.labels)
                                                                  : cross_entropy(logits, batch.labels);
        loss_sum += static_cast<double>(loss.item()) * static_cast<double>(B);
        const Scalar* z = logits.data();
        for (int64_t b = 0; b < B; ++b) {
            int64_t predicted = 0;
            for (int64_t c = 1; c < K; ++c)
                if (z[b * K + c] > z[b * K + predicted]) predicted = c;
            const auto label = static_cast<int64_t>(batch.labels.data()[b]);
            ++result.confusion[label * K + predicted];
            correct += predicted == label ? 1 : 0;
        }
        result.count += B;
    }
    result.loss = result.count ? loss_sum / static_cast<double>(result.count) : 0;
    result.accuracy = result.count ? static_cast<double>(correct) / static_cast<double>(result.count) : 0;
    return result;
}

namespace {

// What was evaluated, for the printouts: "test" or "validation", and whether mirror images were averaged in.
struct EvalSubject {
    std::string split;
    bool eval_flip = false;
};

void print_json(const Checkpoint& ckpt, const EvalSubject& subject, const EvalResult& r) {
    const int64_t K = r.num_classes;
    Json classes = Json::array(), matrix = Json::array();
    for (int64_t t = 0; t < K; ++t) {
        int64_t total = 0;
        Json row = Json::array();
        for (int64_t p = 0; p < K; ++p) {
            total += r.confusion[t * K + p];
            row.push_back(r.confusion[t * K + p]);
        }
        Json entry = Json::object();
        entry.set("name", ckpt.class_names[t]).set("count", total);
        entry.set("accuracy", total ? static_cast<double>(r.confusion[t * K + t]) / static_cast<double>(total) : 0.0);
        classes.push_back(entry);
        matrix.push_back(row);
    }
    Json out = Json::object();
    out.set("checkpoint", ckpt.path).set("dataset", ckpt.config.dataset).set("model", ckpt.config.model);
    out.set("epoch", ckpt.state.epoch).set("split", subject.split).set("eval_flip", subject.eval_flip);
    out.set("count", r.count).set("accuracy", r.accuracy).set("loss", r.loss);
    out.set("classes", classes).set("confusion", matrix);
    std::printf("%s\n", out.dump(2).c_str());
}

void print_table(const Checkpoint& ckpt, const EvalSubject& subject, const EvalResult& r) {
    const int64_t K = r.num_classes;
    size_t width = 5;
    for (const std::string& name : ckpt.class_names) width = std::max(width, name.size());
    std::printf("%s: %s on %s, epoch %lld\n", ckpt.path.c_str(), ckpt.config.model.c_str(),
                ckpt.config.dataset.c_str(), static_cast<long long>(ckpt.state.epoch));
    std::printf("%s accuracy %.2f%% (%lld images%s), loss %.4f\n\n", subject.split.c_str(), 100 * r.accuracy,
                static_cast<long long>(r.count), subject.eval_flip ? ", each averaged with its mirror image" : "",
                r.loss);
    std::printf("%-*s  accuracy   count\n", static_cast<int>(width), "class");
    for (int64_t t = 0; t < K; ++t) {
        int64_t total = 0;
        for (int64_t p = 0; p < K; ++p) total += r.confusion[t * K + p];
        std::printf("%-*s  %7.2f%%  %6lld\n", static_cast<int>(width), ckpt.class_names[t].c_str(),
                    total ? 100.0 * static_cast<double>(r.confusion[t * K + t]) / static_cast<double>(total) : 0.0,
                    static_cast<long long>(total));
    }
    std::printf("\nconfusion matrix: rows are the true class, columns the predicted class (by number)\n");
    std::printf("%-*s", static_cast<int>(width) + 4, "");
    for (int64_t p = 0; p < K; ++p) std::printf(" %5lld", static_cast<long long>(p));
    std::printf("\n");
    for (int64_t t = 0; t < K; ++t) {
        std::printf("%-*s %2lld ", static_cast<int>(width), ckpt.class_names[t].c_str(), static_cast<long long>(t));
        for (int64_t p = 0; p < K; ++p) std::printf(" %5lld", static_cast<long long>(r.confusion[t * K + p]));
        std::printf("\n");
    }
}

}  // namespace

int run_eval(int argc, char** argv) {
    std::string checkpoint, data, split = "test", eval_flip;
    int64_t batch_size = 128, limit = 0, threads = 2;  // 128: as train's --eval-batch-size (config.h)
    bool json = false, reference = false;
    ArgParser args("patchgrad eval", "Evaluates a checkpoint on the test set of its dataset, or on the validation "
                                     "split its run held out:\naccuracy, loss, per-class accuracy and the confusion "
                                     "matrix. The model is rebuilt from the checkpoint's config.");
    args.option("--checkpoint", &checkpoint, "the checkpoint (last.safetensors or best.safetensors of a run)");
    args.option("--data", &data, "the data folder (default: the one the checkpoint was trained from)");
    args.option("--split", &split, "the test set, or the training images the run held out (its --val)",
                {"test", "val"});
    args.option("--eval-flip", &eval_flip, "average each image's logits with its mirror image's (default: as the "
                                           "run evaluated)", {"on", "off"});
    args.option("--batch-size", &batch_size, "images per forward pass", 1, 65536);
    args.option("--limit", &limit, "only the first N images (0: all)", 0, int64_t{1} << 40);
    args.option("--threads", &threads, "OpenMP threads", 1, 1024);
    args.flag("--json", &json, "machine-readable output");
    args.flag("--reference", &reference, "run every layer's textbook twin instead of its fused kernel (docs/models.md)");
    if (!args.parse(argc, argv)) return 0;
    if (checkpoint.empty()) throw UsageError("patchgrad eval: --checkpoint CKPT is required (see --help)");
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(threads));
#endif

    const Checkpoint ckpt = read_checkpoint(checkpoint);
    std::unique_ptr<ImageClassifier> model =
        model_from_checkpoint(ckpt, reference ? Kernels::reference : Kernels::fast);
    TrainConfig config = ckpt.config;
    if (!data.empty()) config.data = data;
    config.eval_batch_size = batch_size;
    config.test_limit = limit;
    if (!eval_flip.empty()) config.eval_flip = eval_flip == "on";
    if (config.eval_flip && config.dataset == "mnist")
        throw UsageError("patchgrad eval: --eval-flip on averages each image with its mirror image, but MNIST's "
                         "training never flips (a mirrored 2 is not a 2)");
    if (split == "val" && config.val == 0)
        throw UsageError("patchgrad eval: --split val, but the run of " + checkpoint +
                         " held out no validation images (it trained with --val 0)");
    const ImageDataset images = split == "val" ? load_train_validation_split(config).validation
                                               : load_dataset(config, false);
    const DataLoader loader(images, eval_loader_options(config));
    const EvalResult result = evaluate(*model, loader, config.num_classes, {.eval_flip = config.eval_flip});
    const EvalSubject subject{split == "val" ? "validation" : "test", config.eval_flip};
    if (json)
        print_json(ckpt, subject, result);
    else
        print_table(ckpt, subject, result);
    return 0;
}

}  // namespace patchgrad::cli
