// The recipe's regularisers as the training command runs them (examples/cli/train.cpp, checkpoint.cpp):
//   * --ema: the average is what evaluation measures and what every checkpoint reader (eval, predict,
//     export) gets; the training weights and the average both survive a resume bit for bit; a checkpoint
//     holding averages its config does not ask for, or averages of no parameter, is refused;
//   * --drop-path reaches the model's blocks, and changes training but not evaluation.
//   * RandAugment, Random Erasing, mixup and CutMix reach the loader and the loss from their flags, and a
//     run using them all resumes mid-epoch bit for bit (the replay draws the mixing too).
//   * --eval-flip: every evaluation averages each image's logits with its mirror image's, computed here by
//     hand; `eval --split val` evaluates the very images the run held out.
// The ops themselves are tested in tests/test_ema.cpp and tests/test_drop_path.cpp.
#include <algorithm>
#include <cmath>

#include "core/io/safetensors.h"
#include "examples/cli/commands.h"
#include "tests/f32/tiny_run.h"
#include "tests/run_command.h"
#include "tests/helpers.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::SmallData, testing::TempDir, testing::tiny_config, testing::check_stop_and_resume_matches,
    testing::parse;

namespace {

// The test set's accuracy of the model a checkpoint gives its readers.
double test_accuracy(const std::string& checkpoint) {
    const Checkpoint ckpt = read_checkpoint(checkpoint);
    std::unique_ptr<ImageClassifier> model = model_from_checkpoint(ckpt);
    const ImageDataset test_set = load_dataset(ckpt.config, false);
    return evaluate(*model, DataLoader(test_set, eval_loader_options(ckpt.config)), ckpt.config.num_classes).accuracy;
}

}  // namespace

TEST_CASE("train --ema: evaluation and every reader use the average; the run resumes bit for bit") {
    SmallData data;
    TempDir straight_dir, resumed_dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), straight_dir.str());
    c.ema = 0.9;
    c.epochs = 2;
    const TrainResult straight = train(c);
    REQUIRE(straight.status == TrainStatus::completed);
    const Checkpoint last = read_checkpoint(straight_dir.file("last.safetensors"));
    CHECK(last.ema.size() == last.model.size());  // every parameter averaged (a learned-1d ViT has no buffers)
    // What the loop measured is what a reader of the checkpoint measures: the average's accuracy.
    CHECK(test_accuracy(straight_dir.file("last.safetensors")) == straight.epochs.back().test_acc);
    // The reader's weights are the averages, not the training weights.
    std::unique_ptr<ImageClassifier> model = model_from_checkpoint(last);
    const auto params = model->named_parameters();
    const Tensor& averaged_head = params.back().second;
    Tensor stored_average, stored_weights;
    for (const auto& [name, t] : last.ema)
        if (name == "ema." + params.back().first) stored_average = t;
    for (const auto& [name, t] : last.model)
        if (name == params.back().first) stored_weights = t;
    REQUIRE(stored_average.defined());
    CHECK(averaged_head.data()[0] == stored_average.data()[0]);
    CHECK(stored_weights.data()[0] != stored_average.data()[0]);

    // Stopped after step 3 and resumed: the same weights, averages and optimizer state.
    c.out = resumed_dir.str();
    check_stop_and_resume_matches(c, straight_dir.file("last.safetensors"));
}

TEST_CASE("checkpoint: averages the config does not ask for, or of no parameter, are refused") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    c.ema = 0.9;
    c.epochs = 1;
    REQUIRE(train(c).status == TrainStatus::completed);
    SafetensorsFile file = load_safetensors(out.file("last.safetensors"));
    // 1. the config says no --ema
    Checkpoint ckpt = read_checkpoint(out.file("last.safetensors"));
    TrainConfig without = ckpt.config;
    without.ema = 0;
    StringPairs metadata = file.metadata;
    for (auto& [key, value] : metadata)
        if (key == "config") value = to_json(without).dump();
    save_safetensors(out.file("no-ema.safetensors"), file.tensors, metadata);
    CHECK(contains(thrown_message([&] { read_checkpoint(out.file("no-ema.safetensors")); }),
                   "holds averaged weights (ema.*), but its config has no --ema (ema is 0)"));
    // 2. an average of a tensor the model does not have
    NamedTensors tensors = file.tensors;
    tensors.emplace_back("ema.blocks.99.weight", Tensor::zeros({2}));
    save_safetensors(out.file("stray.safetensors"), tensors, file.metadata);
    CHECK(contains(thrown_message([&] { model_from_checkpoint(read_checkpoint(out.file("stray.safetensors"))); }),
                   "tensor 'ema.blocks.99.weight' averages no tensor of the model"));
}

TEST_CASE("train --drop-path: the flag reaches every block; training changes, evaluation does not") {
    const TrainConfig flagged = parse({"--drop-path", "0.2"});
    CHECK(flagged.drop_path == 0.2);
    CHECK(vit_config(flagged).drop_path == 0.2);
    CHECK(swin_config(parse({"--model", "swin", "--drop-path", "0.1"})).drop_path == 0.1);
    CHECK(contains(testing::usage_error({"--drop-path", "1"}), "--drop-path expects a number in [0, 0.99]"));

    SmallData data;
    TempDir plain_dir, dropped_dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), plain_dir.str());
    c.epochs = 1;
    const TrainResult plain = train(c);
    c.drop_path = 0.5;
    c.out = dropped_dir.str();
    const TrainResult dropped = train(c);
    REQUIRE(plain.status == TrainStatus::completed);
    REQUIRE(dropped.status == TrainStatus::completed);
    CHECK(plain.epochs[0].train_loss != dropped.epochs[0].train_loss);
    // The same weights evaluate the same with or without drop-path: it is off in eval mode.
    const Checkpoint ckpt = read_checkpoint(dropped_dir.file("last.safetensors"));
    TrainConfig no_drop = ckpt.config;
    no_drop.drop_path = 0;
    Rng rng(0);
    std::unique_ptr<ImageClassifier> a = model_from_checkpoint(ckpt), b = build_model(no_drop, rng);
    load_model_state(*b, ckpt.model, "test");
    b->eval();
    const Tensor images = Tensor::normal({4, 3, 32, 32}, 0, 1, rng);
    Rng ra(1), rb(1);
    const Tensor za = a->forward(images, ra), zb = b->forward(images, rb);
    for (int64_t i = 0; i < za.numel(); ++i) CHECK(za.data()[i] == zb.data()[i]);
}

TEST_CASE("train: RandAugment, Random Erasing, mixup and CutMix from their flags, resumed bit for bit mid-epoch") {
    const TrainConfig flagged = parse({"--rand-augment", "2", "--rand-augment-magnitude", "12", "--random-erasing",
                                       "0.25", "--mixup", "0.8", "--cutmix", "1"});
    const DataLoaderOptions loader = train_loader_options(flagged);
    CHECK(loader.rand_augment_ops == 2);
    CHECK(loader.rand_augment_magnitude == 12);
    CHECK(loader.random_erasing == 0.25);
    CHECK(mix_options(flagged).mixup_alpha == 0.8);
    CHECK(mix_options(flagged).cutmix_alpha == 1);
    CHECK(eval_loader_options(flagged).rand_augment_ops == 0);  // evaluation sees the images as they are
    CHECK(eval_loader_options(flagged).random_erasing == 0);
    CHECK(contains(testing::usage_error({"--rand-augment-magnitude", "31"}), "[0, 30]"));

    SmallData data;
    TempDir plain_dir, straight_dir, resumed_dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), plain_dir.str());
    c.epochs = 2;
    const TrainResult plain = train(c);
    c.rand_augment = 2;
    c.random_erasing = 0.5;
    c.mixup = 0.8;
    c.cutmix = 1.0;
    c.out = straight_dir.str();
    int mixed_batches = 0;
    TrainOptions watch;
    watch.on_batch = [&](int64_t, Batch& batch, ImageClassifier&) { mixed_batches += batch.mixed_labels.defined(); };
    const TrainResult straight = train(c, watch);
    REQUIRE(straight.status == TrainStatus::completed);
    CHECK(mixed_batches == 14);  // probability 1: every batch of both epochs
    CHECK(straight.epochs[0].train_loss != plain.epochs[0].train_loss);

    // Stopped after step 3 (mid-epoch: the replay must draw the mixing too) and resumed.
    c.out = resumed_dir.str();
    check_stop_and_resume_matches(c, straight_dir.file("last.safetensors"));
}

TEST_CASE("train --eval-flip: each evaluation averages the logits of the image and its mirror image") {
    CHECK(parse({"--eval-flip"}).eval_flip);
    CHECK(!parse({}).eval_flip);
    CHECK(contains(testing::usage_error({"--dataset", "mnist", "--eval-flip"}), "MNIST's training never flips"));
    CHECK(from_json(to_json(parse({"--eval-flip"}))).eval_flip);

    SmallData data;
    TempDir plain_dir, flipped_dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), plain_dir.str());
    c.epochs = 1;
    c.val = 40;
    const TrainResult plain = train(c);
    c.eval_flip = true;
    c.out = flipped_dir.str();
    const TrainResult flipped = train(c);
    REQUIRE(flipped.status == TrainStatus::completed);
    // Evaluation changes nothing of training: the same weights, a different measurement of them.
    testing::check_same_tensors(plain_dir.file("last.safetensors"), flipped_dir.file("last.safetensors"));
    CHECK(flipped.epochs[0].train_loss == plain.epochs[0].train_loss);
    CHECK(flipped.epochs[0].test_loss != plain.epochs[0].test_loss);

    // The test figures by hand: z = (f(x) + f(mirror(x))) / 2 per image, then argmax and cross-entropy.
    const Checkpoint ckpt = read_checkpoint(flipped_dir.file("last.safetensors"));
    std::unique_ptr<ImageClassifier> model = model_from_checkpoint(ckpt);
    model->eval();
    const ImageDataset test_set = load_dataset(ckpt.config, false);
    const DataLoader all(test_set, {.batch_size = test_set.count, .normalization = dataset_normalization("cifar10")});
    Rng unused(0);
    const Batch batch = all.batch(0, unused);
    Tensor z, z_mirror;  // (B, K)
    {
        NoGradGuard no_grad;
        z = model->forward(batch.images, unused);
        z_mirror = model->forward(mirror_left_right(batch.images), unused);
    }
    const int64_t B = z.size(0), K = z.size(1);
    int64_t correct = 0;
    double loss_sum = 0;
    for (int64_t b = 0; b < B; ++b) {
        std::vector<double> mean(K);
        for (int64_t k = 0; k < K; ++k) mean[k] = 0.5 * (double(z.data()[b * K + k]) + double(z_mirror.data()[b * K + k]));
        const auto label = static_cast<int64_t>(batch.labels.data()[b]);
        correct += std::max_element(mean.begin(), mean.end()) - mean.begin() == label;
        double log_sum = 0;
        const double top = *std::max_element(mean.begin(), mean.end());
        for (double m : mean) log_sum += std::exp(m - top);
        loss_sum += top + std::log(log_sum) - mean[label];
    }
    CHECK(flipped.epochs[0].test_acc == doctest::Approx(double(correct) / double(B)).epsilon(1e-12));
    CHECK(flipped.epochs[0].test_loss == doctest::Approx(loss_sum / double(B)).epsilon(1e-5));

    // `eval --split val` finds the run's held-out images again: the accuracy the run chose by.
    const TrainValidationSplit split = load_train_validation_split(ckpt.config);
    CHECK(split.validation.count == 40);
    const DataLoader val_loader(split.validation, eval_loader_options(ckpt.config));
    CHECK(evaluate(*model, val_loader, 10, {.eval_flip = true}).accuracy == flipped.epochs[0].val_acc);
    CHECK(evaluate(*model, val_loader, 10, {.eval_flip = false}).accuracy == plain.epochs[0].val_acc);
    const std::string last = flipped_dir.file("last.safetensors");
    CHECK(testing::run_command(run_eval, {"patchgrad", "eval", "--checkpoint", last, "--split", "val"}) == 0);
    CHECK(testing::run_command(run_eval, {"patchgrad", "eval", "--checkpoint", last, "--eval-flip", "off"}) == 0);
    c.val = 0;
    c.eval_flip = false;
    c.out = plain_dir.str() + "/no-split";
    REQUIRE(train(c).status == TrainStatus::completed);
    CHECK(contains(thrown_message([&] {
                       testing::run_command(run_eval, {"patchgrad", "eval", "--checkpoint", c.out + "/last.safetensors",
                                                       "--split", "val"});
                   }),
                   "held out no validation images (it trained with --val 0)"));
}

TEST_CASE("train --patch-tokens: shifted reaches the model (MNIST's default), is refused where it cannot work, fixed on resume") {
    const TrainConfig flagged = parse({"--patch-tokens", "shifted"});
    CHECK(flagged.patch_tokens == "shifted");
    CHECK(vit_config(flagged).shifted_patches);
    CHECK(vit_config(flagged).patch_channels() == 15);
    CHECK(from_json(to_json(flagged)).patch_tokens == "shifted");
    CHECK(parse({}).patch_tokens == "plain");  // CIFAR-10: the reference ViT
    CHECK(parse({"--dataset", "mnist"}).patch_tokens == "shifted");
    CHECK(parse({"--dataset", "fashion-mnist"}).patch_tokens == "plain");  // not searched there
    CHECK(parse({"--dataset", "mnist", "--patch-tokens", "plain"}).patch_tokens == "plain");
    CHECK(parse({"--model", "swin", "--dataset", "mnist"}).patch_tokens == "plain");  // a Swin has none
    CHECK(contains(testing::usage_error({"--model", "swin", "--patch-tokens", "shifted"}),
                   "--patch-tokens shapes a ViT but the model is swin"));
    CHECK(contains(testing::usage_error({"--patch-tokens", "shifted", "--patch", "1"}), "needs --patch 2 or more, got 1"));
    CHECK(contains(testing::usage_error({"--patch-tokens", "diagonal"}), "plain"));
    TrainConfig plain = flagged;
    plain.patch_tokens = "plain";
    CHECK(contains(resume_mismatch(flagged, plain), "patch_tokens"));

    SmallData data;
    TempDir dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), dir.str());
    c.epochs = 1;
    c.patch_tokens = "shifted";
    REQUIRE(train(c).status == TrainStatus::completed);
    const Checkpoint ckpt = read_checkpoint(dir.file("last.safetensors"));
    CHECK(ckpt.config.patch_tokens == "shifted");
    CHECK(model_from_checkpoint(ckpt)->parameter_count() == vit_config(c).parameter_count());
}

TEST_CASE("train --stem: conv reaches the model and its checkpoint, is refused where it cannot work, fixed on resume") {
    const TrainConfig flagged = parse({"--stem", "conv", "--dataset", "fashion-mnist"});
    CHECK(flagged.stem == "conv");
    CHECK(vit_config(flagged).stem == Stem::conv);
    CHECK(from_json(to_json(flagged)).stem == "conv");
    CHECK(parse({}).stem == "conv");  // CIFAR-10's default, chosen on its validation split
    CHECK(vit_config(parse({})).stem == Stem::conv);
    CHECK(parse({"--stem", "patch"}).stem == "patch");
    CHECK(parse({"--dataset", "fashion-mnist"}).stem == "patch");  // not searched there
    CHECK(parse({"--model", "swin"}).stem == "conv");  // the CIFAR-10 Swin's default too, on an 8 x 8 grid
    CHECK(swin_config(parse({"--model", "swin"})).stem == Stem::conv);
    const TrainConfig swin = parse({"--model", "swin", "--stem", "patch"});
    CHECK(swin_config(swin).stem == Stem::patch);
    CHECK(parse({"--model", "swin", "--dataset", "mnist"}).stem == "patch");  // not searched there
    CHECK(contains(testing::usage_error({"--model", "swin", "--stem", "conv", "--patch", "4", "--embed-dim", "63",
                                         "--swin-heads", "1,1,1", "--window", "2"}),
                   "--embed-dim divisible by patch/2, got --patch 4 and --embed-dim 63"));
    // MNIST's ViT cuts 7 x 7 patches: no number of halvings makes 7.
    CHECK(contains(testing::usage_error({"--dataset", "mnist", "--stem", "conv"}),
                   "it needs --patch 2, 4, 8, ... (a power of two) and --dim divisible by patch/2, got --patch 7 and --dim"));
    CHECK(contains(testing::usage_error({"--patch", "8", "--dim", "126", "--heads", "2"}), "got --patch 8 and --dim 126"));
    CHECK(contains(testing::usage_error({"--stem", "convolution"}), "patch"));
    TrainConfig plain = flagged;
    plain.stem = "patch";
    CHECK(contains(resume_mismatch(flagged, plain), "stem"));

    SmallData data;
    TempDir dir;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), dir.str());
    c.epochs = 1;
    c.stem = "conv";
    REQUIRE(train(c).status == TrainStatus::completed);
    const Checkpoint ckpt = read_checkpoint(dir.file("last.safetensors"));
    CHECK(ckpt.config.stem == "conv");
    const std::unique_ptr<ImageClassifier> model = model_from_checkpoint(ckpt);
    CHECK(model->parameter_count() == vit_config(c).parameter_count());
    TrainConfig patches = c;  // patch 8, dim 32: the stem is 3 -> 8 -> 16 -> 32 channels, 3 convs
    patches.stem = "patch";
    CHECK(model->parameter_count() != vit_config(patches).parameter_count());
}
