// Building what a TrainConfig describes (examples/cli/config.h): the model, the optimizer, the datasets
// and their loaders. The config itself (its fields, defaults, validation, JSON and flags) is config.cpp.
#include <filesystem>

#include "datasets/cifar10.h"
#include "datasets/mnist.h"
#include "examples/cli/args.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/config.h"
#include "optim/adam.h"
#include "optim/sgd.h"

namespace patchgrad::cli {

namespace {

PositionEmbeddingKind position_kind(const std::string& name) {
    if (name == "learned_2d") return PositionEmbeddingKind::learned_2d;
    if (name == "sincos_1d") return PositionEmbeddingKind::sincos_1d;
    if (name == "sincos_2d") return PositionEmbeddingKind::sincos_2d;
    return PositionEmbeddingKind::learned_1d;
}

}  // namespace

// ---- building ----------------------------------------------------------------------------------------

ViTConfig vit_config(const TrainConfig& c) {
    ViTConfig v;
    v.image_size = c.image_size;
    v.in_channels = c.channels;
    v.patch_size = c.patch;
    v.dim = c.dim;
    v.depth = c.depth;
    v.heads = c.heads;
    v.mlp_dim = c.mlp_dim;
    v.num_classes = c.num_classes;
    v.dropout = c.dropout;
    v.drop_path = c.drop_path;
    v.position = position_kind(c.pos_embed);
    v.pooling = c.pool == "mean" ? Pooling::mean : Pooling::cls;
    v.shifted_patches = c.patch_tokens == "shifted";
    v.stem = c.stem == "conv" ? Stem::conv : Stem::patch;
    v.kernels = c.kernels;
    return v;
}

SwinConfig swin_config(const TrainConfig& c) {
    SwinConfig s;
    s.image_size = c.image_size;
    s.in_channels = c.channels;
    s.patch_size = c.patch;
    s.stem = c.stem == "conv" ? Stem::conv : Stem::patch;
    s.embed_dim = c.embed_dim;
    s.depths = c.depths;
    s.heads = c.swin_heads;
    s.window_size = c.window;
    s.mlp_ratio = c.mlp_ratio;
    s.num_classes = c.num_classes;
    s.dropout = c.dropout;
    s.drop_path = c.drop_path;
    s.kernels = c.kernels;
    return s;
}

std::unique_ptr<ImageClassifier> build_model(const TrainConfig& config, Rng& rng) {
    if (config.model == "swin") return std::make_unique<SwinTransformer>(swin_config(config), rng);
    return std::make_unique<VisionTransformer>(vit_config(config), rng);
}

std::unique_ptr<Optimizer> build_optimizer(const TrainConfig& c, const ImageClassifier& model) {
    const auto lr = static_cast<Scalar>(c.lr);
    const auto wd = static_cast<Scalar>(c.weight_decay);
    if (c.optimizer == "sgd")
        return std::make_unique<SGD>(model.named_parameters(), lr, static_cast<Scalar>(c.momentum), 0, wd);
    if (c.optimizer == "adam") return std::make_unique<Adam>(model.named_parameters(), lr, 0.9, 0.999, 1e-8, wd);
    return std::make_unique<AdamW>(model.named_parameters(), lr, 0.9, 0.999, 1e-8, wd);
}

// ---- data ---------------------------------------------------------------------------------------------

std::string dataset_dir(const TrainConfig& config) {
    const char* folder = config.dataset == "cifar10" ? "cifar-10-batches-bin"
                         : config.dataset == "mnist" ? "mnist"
                                                     : "fashion-mnist";
    return (std::filesystem::path(config.data) / folder).string();
}

ImageDataset load_dataset(const TrainConfig& config, bool train) {
    if (config.dataset != "cifar10") return load_mnist(dataset_dir(config), train, config.dataset);
    ImageDataset data = load_cifar10(dataset_dir(config), train);
    // batches.meta.txt's names go into every checkpoint, whose reader refuses a name that is not printable
    // or is repeated: refused here, before training, not by `eval` after an hour of it.
    check_class_names(data.class_names, dataset_dir(config) + "/batches.meta.txt");
    return data;
}

RunSeeds run_seeds(int64_t seed) {
    Rng seeder(static_cast<uint64_t>(seed));
    RunSeeds seeds;
    seeds.init = seeder.next_u64();
    seeds.data = seeder.next_u64();
    seeds.model = seeder.next_u64();
    seeds.split = seeder.next_u64();
    return seeds;
}

TrainValidationSplit load_train_validation_split(const TrainConfig& config) {
    const ImageDataset full_train_set = load_dataset(config, true);
    if (config.val >= full_train_set.count)
        throw UsageError(format_message("patchgrad: --val ", config.val, " holds out all of the ", full_train_set.count,
                                        " training images in ", dataset_dir(config), "; at most ",
                                        full_train_set.count - 1, " leaves one to train on"));
    Rng split_rng(run_seeds(config.seed).split);
    return split_validation(full_train_set, config.val, split_rng);
}

Normalization dataset_normalization(const std::string& dataset) {
    if (dataset == "mnist") return mnist_normalization();
    if (dataset == "fashion-mnist") return fashion_mnist_normalization();
    return cifar10_normalization();
}

// Augmentation per dataset: CIFAR-10 pads 4 and flips (a mirrored cat is a cat); Fashion-MNIST pads 2 and
// flips (a mirrored shoe is a shoe); MNIST pads 2 and never flips (a mirrored 2 is not a 2).
DataLoaderOptions train_loader_options(const TrainConfig& config) {
    DataLoaderOptions options;
    options.batch_size = config.batch_size;
    options.shuffle = true;
    options.random_crop = config.augment;
    options.crop_padding = config.dataset == "cifar10" ? 4 : 2;
    options.horizontal_flip = config.augment && config.dataset != "mnist";
    options.normalization = dataset_normalization(config.dataset);
    options.limit = config.limit;
    options.rand_augment_ops = static_cast<int>(config.rand_augment);
    options.rand_augment_magnitude = static_cast<int>(config.rand_augment_magnitude);
    options.random_erasing = config.random_erasing;
    return options;
}

MixOptions mix_options(const TrainConfig& config) {
    MixOptions options;
    options.mixup_alpha = config.mixup;
    options.cutmix_alpha = config.cutmix;
    return options;
}

DataLoaderOptions eval_loader_options(const TrainConfig& config) {
    DataLoaderOptions options;
    options.batch_size = config.eval_batch_size;
    options.normalization = dataset_normalization(config.dataset);
    options.limit = config.test_limit;
    return options;
}

}  // namespace patchgrad::cli
