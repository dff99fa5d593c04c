// The recipe's regularisers as the training command runs them (examples/cli/train.cpp, checkpoint.cpp):
//   * --ema: the average is what evaluation measures and what every checkpoint reader (eval, predict,
//     export) gets; the training weights and the average both survive a resume bit for bit; a checkpoint
//     holding averages its config does not ask for, or averages of no parameter, is refused;
//   * --drop-path reaches the model's blocks, and changes training but not evaluation.
//   * RandAugment, Random Erasing, mixup and CutMix reach the loader and the loss from their flags, and a
//     run using them all resumes mid-epoch bit for bit (the replay draws the mixing too).
// The ops themselves are tested in tests/test_ema.cpp and tests/test_drop_path.cpp.
#include "core/io/safetensors.h"
#include "examples/cli/commands.h"
#include "tests/f32/tiny_run.h"
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
