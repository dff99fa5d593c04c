#pragma once
// TrainConfig: everything a training run is, as plain values: the model's shape, the data, the recipe and
// the run's bookkeeping. One struct, three uses:
//   * `patchgrad train` fills it from its flags (parse_train_config, with the defaults of the chosen
//     dataset and model for every flag not given), validates it, and trains from it (train.cpp);
//   * it is written as config.json in the run's folder and into every checkpoint's metadata (to_json),
//     so `eval`, `predict` and `--resume` rebuild the very same model from a checkpoint (from_json);
//   * the tests build one directly, field by field.
//
// Which fields may change on --resume (docs/training.md, "Exact resume"): the recipe's schedule and the
// run's bookkeeping may (epochs, steps, lr, min_lr, warmup_epochs, weight_decay, momentum, label_smoothing,
// augment, rand_augment, rand_augment_magnitude, random_erasing, mixup, cutmix, clip_grad, skip_nonfinite, dropout, drop_path, threads, data, out, eval_batch_size, test_limit, eval_flip); the fields in
// kResumeFixedFields may not: they define the model's tensors, the optimizer's state or the order of
// the data, and a change would make the checkpoint mean something else.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/io/json.h"
#include "datasets/augment.h"
#include "datasets/dataloader.h"
#include "datasets/dataset.h"
#include "datasets/split.h"
#include "nn/classifier.h"
#include "nn/swin.h"
#include "nn/vit.h"
#include "optim/optimizer.h"

namespace patchgrad::cli {

struct TrainConfig {
    // ---- what to train on what -------------------------------------------------------------------------
    std::string model = "vit";        // "vit" or "swin"
    std::string dataset = "cifar10";  // "cifar10", "mnist" or "fashion-mnist"
    std::string data = "data";        // the folder `make data` fills: data/cifar-10-batches-bin, data/mnist, ...

    // ---- the recipe ------------------------------------------------------------------------------------
    int64_t epochs = 21;              // passes over the training set (9 for MNIST and Fashion-MNIST)
    int64_t steps = 0;                // the run's length in optimizer steps; 0: epochs x steps per epoch.
                                      // When set, the run has ceil(steps / N) epochs, the last one partial
    double time = 0;                  // --time: a budget in seconds that sizes the run (sets `steps` and
                                      // `epochs` before the first step: examples/cli/time_budget.h); 0: none
    int64_t val = 0;                  // training images held out for validation (datasets/split.h); 0: none
    int64_t batch_size = 128;         // images per optimizer step
    std::string optimizer = "adamw";  // "sgd", "adam" or "adamw"
    double lr = 1e-3;                 // the peak learning rate, reached at the end of the warmup
    double min_lr = 1e-5;             // the cosine's floor, reached at epochs x N steps, one after the last
    double warmup_epochs = 2;         // linear warmup, in epochs (fractions allowed; 1 for MNIST and
                                      // Fashion-MNIST; the flags cap the default at epochs / 5)
    double weight_decay = 0.05;       // AdamW: decoupled; Adam, SGD: an L2 penalty; never on biases/norms
    double momentum = 0.9;            // SGD only
    double label_smoothing = 0.1;     // cross_entropy's target: 0.9 on the label + 0.1 spread over the K classes
    bool augment = true;              // random crop (and flip where it makes sense), training only
    int64_t rand_augment = 0;         // RandAugment: ops per image (datasets/augment.h); 0: off
    int64_t rand_augment_magnitude = 9;  // RandAugment's strength, 0..30
    double random_erasing = 0;        // the probability of erasing a rectangle of each image; 0: off
    double mixup = 0;                 // mixup's Beta(alpha, alpha); 0: off
    double cutmix = 0;                // CutMix's Beta(alpha, alpha); 0: off (both on: each batch one of them)
    double clip_grad = 1.0;           // the global gradient norm's bound; 0: no clipping
    double ema = 0;                   // the decay of an average of the weights (optim/ema.h) that evaluation
                                      // and the checkpoints' readers use; 0: none (the weights themselves)
    bool skip_nonfinite = false;      // a NaN/Inf loss or gradient skips the step instead of stopping
    bool eval_flip = false;           // evaluate each image and its mirror image, averaging the two logits
                                      // (examples/cli/evaluate.cpp); not for MNIST, whose training never flips

    // ---- the model's shape: ViT ------------------------------------------------------------------------
    int64_t patch = 4;                   // patch side P (ViT and Swin); Swin's default is 2
    int64_t dim = 128;                   // width D
    int64_t depth = 6;                   // encoder blocks
    int64_t heads = 4;                   // attention heads; must divide dim
    int64_t mlp_dim = 256;               // MLP hidden width (the flag --mlp-ratio sets it to ratio * dim)
    std::string pos_embed = "learned_1d";  // learned_1d, learned_2d, sincos_1d, sincos_2d
    std::string pool = "mean";           // cls or mean (the mean: +1.94 points of validation accuracy,
                                         // docs/results.md)
    std::string patch_tokens = "plain";  // ViT: plain, or shifted (the image and 4 copies shifted by patch/2
                                         // as 5C channels; MNIST's default, docs/results.md)
    std::string stem = "patch";          // ViT and Swin: patch (one P x P linear map a patch), or conv
                                         // (log2(P) 3 x 3 stride-2 convolutions, nn/embedding.h; the
                                         // default of CIFAR-10's ViT and Swin, docs/results.md)
    double dropout = 0.0;                // ViT and Swin
    double drop_path = 0.0;              // ViT and Swin: stochastic depth's rate at the last block (core/ops.h)

    // ---- the model's shape: Swin -----------------------------------------------------------------------
    int64_t embed_dim = 64;                   // C0, doubled at each stage
    std::vector<int64_t> depths{2, 2, 2};     // blocks per stage
    std::vector<int64_t> swin_heads{2, 4, 8}; // heads per stage
    int64_t window = 4;                       // window side M
    double mlp_ratio = 2.0;                   // Swin's MLP width = mlp_ratio * C

    // ---- set by the dataset, not by flags (kept so a checkpoint is self-describing) ---------------------
    int64_t image_size = 32;   // 32 for CIFAR-10, 28 for MNIST and Fashion-MNIST
    int64_t channels = 3;      // 3 or 1
    int64_t num_classes = 10;

    // ---- the run ---------------------------------------------------------------------------------------
    int64_t threads = 2;            // OpenMP threads; results do not depend on it
    int64_t seed = 0;               // the one seed: weights, data order, augmentation, dropout
    int64_t limit = 0;              // train on the first N training images only; 0: all
    int64_t test_limit = 0;         // evaluate on the first N test images only; 0: all
    // Images per forward pass when evaluating. 128 rather than more: the tiny ViT with its conv stem
    // evaluated CIFAR-10's 10,000 test images in 8.8 to 9.8 s at 128 and 11.1 to 11.3 s at 256 and 500
    // (2 threads, `patchgrad eval --batch-size N`): a smaller batch's activations stay in the caches.
    int64_t eval_batch_size = 128;
    std::string out;                // the run's folder; empty: runs/<dataset>-<model>-<time>

    // ---- how the model computes: not saved (a run may go on with either) --------------------------------
    Kernels kernels = Kernels::fast;  // --reference: every layer runs its textbook twin (nn/module.h)
};

// The most epochs a run may have (--epochs, and a plan of --steps or --time): a run's metrics.csv has one
// row per epoch, and its readers take no more (kMaxMetricsRows, commands.h).
constexpr int64_t kMaxEpochs = 100000;

// The most encoder blocks a model may have: a ViT's --depth, and a Swin's --depths summed over its
// stages. Each block adds its tensors to a checkpoint four times over (the weights, AdamW's two moments,
// an EMA's average), so this bounds the largest header patchgrad writes: 256 blocks make 1.9 MB and
// 121,000 JSON values for a Swin of one-pixel patches, 1.5 MB and 109,000 for a ViT, within what the
// reader accepts (kMaxHeaderBytes, kMaxJsonValues). Before this bound, a Swin of 6 stages of 1024 blocks
// wrote a header of about 45 MB and 2.9 million values, which its own reader refused. The deepest
// published ViTs have 48 blocks (ViT-22B).
constexpr int64_t kMaxBlocks = 256;

// The largest config.json read_config_file reads. As train writes it, it is about 1.5 KB, and at most
// about 10 KB: its two paths, data and out, of up to 4096 bytes each (Linux's PATH_MAX), and lists of at
// most 6 stages. 64 KB leaves room, and parses in a few milliseconds whatever it holds.
constexpr uint64_t kMaxConfigFileBytes = 64 << 10;

// The defaults of a dataset and model when the flags do not say otherwise: for CIFAR-10 the tiny ViT
// and the tiny Swin as their searches on the validation split left them (both with the conv stem); for
// MNIST and Fashion-MNIST (1 x 28 x 28) a smaller ViT and Swin. docs/training.md, "Defaults per dataset
// and model", tabulates them (tests/f32/test_doc_numbers.cpp checks the table's numbers). Throws
// UsageError for an unknown model or dataset.
TrainConfig default_config(const std::string& model, const std::string& dataset);

// Every value in range and every shape consistent (heads divide dim, patch divides the image, windows
// divide the grids...). Throws UsageError with one line naming the flag and the value: checked before
// anything is built or loaded.
void validate(const TrainConfig& config);

// JSON, every field under its flag's name with '_' for '-' ("batch_size", "pos_embed"), plus "version".
// from_json refuses unknown and missing keys and wrong types, naming them; it does not validate().
Json to_json(const TrainConfig& config);
TrainConfig from_json(const Json& json);
// A config.json file (a run's, or `import --config`'s): read (at most kMaxConfigFileBytes), parsed and
// from_json, not validated. Every error names the path.
TrainConfig read_config_file(const std::string& path);

// The fields that --resume refuses to change, in the order they are compared.
extern const std::vector<std::string> kResumeFixedFields;
// The first field of kResumeFixedFields in which the two differ, as "dim: the checkpoint has 128, this
// run asks for 64"; empty when they agree.
std::string resume_mismatch(const TrainConfig& checkpoint, const TrainConfig& requested);

// Parses `patchgrad train`'s flags (argv[2..]). Returns false when --help was printed. Without --resume:
// default_config(model, dataset) overridden by the flags given. With --resume CKPT: the checkpoint's
// config overridden by the flags given, refused (UsageError naming the field and both values) when that
// changes a field of kResumeFixedFields; *resume receives CKPT, and the run stays in CKPT's folder (an
// --out naming another folder is refused). Conflicting flags (ViT shape flags with --model swin, Swin
// flags with --model vit, --mlp-ratio with --mlp-dim, --force with --resume) are refused by name. The
// result is validated. *force, when given, receives --force (train.cpp: TrainOptions::force).
bool parse_train_config(int argc, char** argv, TrainConfig& config, std::string& resume, bool* force = nullptr);

// ---- building what the config describes (config_build.cpp) ------------------------------------------
ViTConfig vit_config(const TrainConfig& config);
SwinConfig swin_config(const TrainConfig& config);
std::unique_ptr<ImageClassifier> build_model(const TrainConfig& config, Rng& rng);
std::unique_ptr<Optimizer> build_optimizer(const TrainConfig& config, const ImageClassifier& model);

// The dataset's folder under config.data ("data/cifar-10-batches-bin", "data/mnist", "data/fashion-mnist").
std::string dataset_dir(const TrainConfig& config);
// The training or test set; CIFAR-10's class names must also pass check_class_names (checkpoint.h), as
// every checkpoint of the run will hold them.
ImageDataset load_dataset(const TrainConfig& config, bool train);

// The run's four random streams, drawn in this order from one Rng seeded with --seed: the initial weights,
// the data (order and augmentation), the model's draws (dropout, stochastic depth), the validation split.
// The order is part of what a run is: a resumed run and `patchgrad eval --split val` draw them again.
struct RunSeeds {
    uint64_t init = 0, data = 0, model = 0, split = 0;
};
RunSeeds run_seeds(int64_t seed);
// The training set with --val images held out, exactly as `patchgrad train` holds them out (datasets/split.h,
// drawn with run_seeds(config.seed).split). UsageError when --val would leave nothing to train on.
TrainValidationSplit load_train_validation_split(const TrainConfig& config);
Normalization dataset_normalization(const std::string& dataset);
// The training loader's options (shuffle, augmentation, limit) and the evaluation loader's (in order, none).
DataLoaderOptions train_loader_options(const TrainConfig& config);
DataLoaderOptions eval_loader_options(const TrainConfig& config);
// Mixup and CutMix (--mixup, --cutmix): applied to each training batch after the loader's augmentation.
MixOptions mix_options(const TrainConfig& config);

}  // namespace patchgrad::cli
