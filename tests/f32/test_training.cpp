// The training command line end to end (examples/cli/: config, train, checkpoint, evaluate), in float32 as
// the program runs: a tiny ViT learns CIFAR-10 and MNIST subsets; a run stopped and resumed (mid-epoch,
// before an evaluation, at an epoch's end) ends bit for bit where an uninterrupted run ends; a stop
// request saves a resumable `last`; NaN gradients and losses stop the run naming the step and the tensor
// (or are skipped with skip_nonfinite); checkpoints refuse tensors that do not fit; the flags refuse
// impossible values with the right words.
//
// The learning tests use the real datasets under data/ when `make data` has put them there, else small
// generated ones; the mechanics tests always use small generated files (fast, and the same everywhere).
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <limits>

#include "core/io/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "tests/helpers.h"
#include "tests/f32/tiny_run.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
namespace fs = std::filesystem;
using testing::TempDir, testing::write_bytes, testing::idx_images, testing::idx_labels;
using testing::SmallData, testing::real_data_present, testing::tiny_config, testing::write_synthetic_data;
using testing::check_same_tensors, testing::parse, testing::usage_error;

namespace {

// metrics.csv without its last three columns (images/s, seconds and peak RSS, which are measurements).
std::vector<std::string> metrics_without_timings(const std::string& path) {
    std::vector<std::string> rows;
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
        size_t cut = line.rfind(',');
        cut = line.rfind(',', cut - 1);
        cut = line.rfind(',', cut - 1);
        rows.push_back(line.substr(0, cut));
    }
    return rows;
}

// The model of a checkpoint evaluated on the first `limit` training images (no augmentation).
double training_accuracy(const std::string& checkpoint, int64_t limit) {
    const Checkpoint ckpt = read_checkpoint(checkpoint);
    std::unique_ptr<ImageClassifier> model = model_from_checkpoint(ckpt);
    TrainConfig config = ckpt.config;
    config.test_limit = limit;
    const ImageDataset train_set = load_dataset(config, true);
    const DataLoader loader(train_set, eval_loader_options(config));
    return evaluate(*model, loader, config.num_classes).accuracy;
}

}  // namespace

// ============================================= learning ================================================

// A tiny ViT, 400 steps on 256 images, no augmentation: the loss falls and the model classifies its
// training subset far better than chance (10%). Measured on the real data: 73% on CIFAR-10 and 84% on
// MNIST (the running training accuracy of the last epoch); the threshold, 50%, leaves room for other
// seeds and machines. About 2 seconds each.
TEST_CASE("train: a tiny ViT learns a CIFAR-10 subset and an MNIST subset") {
    std::unique_ptr<SmallData> generated;
    std::string data = "data";
    if (!real_data_present()) {
        generated = std::make_unique<SmallData>();
        data = generated->dir.str();
    }
    for (const std::string dataset : {"cifar10", "mnist"}) {
        CAPTURE(dataset);
        TempDir out;
        TrainConfig c = tiny_config(dataset, data, out.str());
        c.limit = 256;  // 8 batches of 32
        c.test_limit = 200;
        c.epochs = 50;  // 400 steps
        c.warmup_epochs = 1;
        c.lr = 2e-3;
        c.weight_decay = 0;
        c.label_smoothing = 0;
        c.augment = false;
        const TrainResult result = train(c);
        REQUIRE(result.status == TrainStatus::completed);
        REQUIRE(result.epochs.size() == 50);
        const double first = result.epochs.front().train_loss, last = result.epochs.back().train_loss;
        CHECK_MESSAGE(last < 0.8 * first, "train loss ", first, " -> ", last);
        const double accuracy = training_accuracy(out.file("last.safetensors"), 256);
        CHECK_MESSAGE(accuracy >= 0.5, dataset, " training accuracy ", accuracy);
        CHECK(result.state.best_test_acc > 0.15);  // the test set, too, beats chance
    }
}

// ============================================= resume ===================================================

// Two epochs in one go, and the same two epochs in four sessions stopped at awkward places: after
// step 2 (mid-epoch), after the first epoch's last step (its evaluation pending) and at the end of the
// first epoch. Augmentation and dropout are on, so the data and dropout Rngs must be restored exactly.
TEST_CASE("train: stopping and resuming gives bit-identical weights, optimizer state and metrics") {
    SmallData data;
    TempDir a, b;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), a.str());
    c.dropout = 0.1;
    const TrainResult straight = train(c);
    REQUIRE(straight.status == TrainStatus::completed);
    REQUIRE(straight.state.epoch == 2);

    c.out = b.str();
    const std::string last = b.file("last.safetensors");
    constexpr int64_t N = 7;  // batches per epoch: 200 images in batches of 32 (a constant: lambdas need no capture)
    // session 1: stop after step 2, mid-epoch
    TrainOptions options;
    options.after_step = [](const StepInfo& info) {
        if (info.step == 2) request_stop(SIGINT);
    };
    TrainResult r = train(c, options);
    REQUIRE(r.status == TrainStatus::interrupted);
    CHECK(r.signal == SIGINT);
    CHECK(contains(r.message, "SIGINT"));
    CHECK(contains(r.message, "--resume " + last));
    CHECK(read_checkpoint(last).state.batch == 3);
    CHECK(read_checkpoint(last).state.epoch == 0);
    CHECK(!fs::exists(b.file("best.safetensors")));
    // session 2: stop after the epoch's last step, before its evaluation
    options.resume = last;
    options.after_step = [](const StepInfo& info) {
        if (info.step == N - 1) request_stop(SIGTERM);
    };
    r = train(c, options);
    REQUIRE(r.status == TrainStatus::interrupted);
    CHECK(r.signal == SIGTERM);
    CHECK(read_checkpoint(last).state.batch == N);
    CHECK(r.epochs.empty());
    // session 3: evaluate epoch 1, then stop at its end
    options.after_step = nullptr;
    options.after_epoch = [](const EpochMetrics&) { request_stop(SIGINT); };
    r = train(c, options);
    REQUIRE(r.status == TrainStatus::interrupted);
    REQUIRE(r.epochs.size() == 1);
    CHECK(contains(r.message, "in epoch 1 after batch 7/7 (step 7)"));
    CHECK(read_checkpoint(last).state.epoch == 1);
    CHECK(read_checkpoint(last).state.batch == 0);
    // session 4: the second epoch
    options.after_epoch = nullptr;
    r = train(c, options);
    REQUIRE(r.status == TrainStatus::completed);
    REQUIRE(r.epochs.size() == 1);

    check_same_tensors(a.file("last.safetensors"), last);
    check_same_tensors(a.file("best.safetensors"), b.file("best.safetensors"));
    CHECK(metrics_without_timings(a.file("metrics.csv")) == metrics_without_timings(b.file("metrics.csv")));
    CHECK(metrics_without_timings(b.file("metrics.csv")).size() == 3);  // header + 2 epochs
    CHECK(r.epochs[0].train_loss == straight.epochs[1].train_loss);
    CHECK(r.epochs[0].test_acc == straight.epochs[1].test_acc);
}

TEST_CASE("train: --resume refuses a config that changes the model, naming the field and both values") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("mnist", data.dir.str(), out.str());
    c.epochs = 1;
    REQUIRE(train(c).status == TrainStatus::completed);
    const std::string last = out.file("last.safetensors");

    // train() itself
    TrainConfig wider = c;
    wider.dim = 48;
    wider.heads = 2;
    TrainOptions options;
    options.resume = last;
    const std::string msg = thrown_message([&] { train(wider, options); });
    CHECK(contains(msg, "dim: the checkpoint has 32, this run asks for 48"));

    // the flags: unchanged fields are taken from the checkpoint, schedule fields may change
    std::string resume;
    const TrainConfig resumed = parse({"--resume", last, "--epochs", "3", "--lr", "0.01"}, &resume);
    CHECK(resume == last);
    CHECK(resumed.dim == 32);
    CHECK(resumed.dataset == "mnist");
    CHECK(resumed.epochs == 3);
    CHECK(resumed.lr == 0.01);
    CHECK(resumed.out == out.str());
    const std::string flag_msg = usage_error({"--resume", last, "--depth", "3"});
    CHECK(contains(flag_msg, "cannot change depth: the checkpoint has 2, this run asks for 3"));
    CHECK(contains(usage_error({"--resume", last, "--batch-size", "64"}), "batch_size: the checkpoint has 32"));

    // extending the run: 1 more epoch on top of the first
    TrainConfig longer = c;
    longer.epochs = 2;
    const TrainResult more = train(longer, options);
    REQUIRE(more.status == TrainStatus::completed);
    REQUIRE(more.epochs.size() == 1);
    CHECK(more.epochs[0].epoch == 2);
    CHECK(metrics_without_timings(out.file("metrics.csv")).size() == 3);
}

// ============================================= faults ===================================================

TEST_CASE("train: a NaN gradient stops the run naming the step and the parameter, keeping the last checkpoint") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("cifar10", data.dir.str(), out.str());
    TrainOptions options;
    options.on_gradients = [](int64_t step, ImageClassifier& model) {
        if (step != 9) return;  // epoch 2, batch 3
        for (auto& [name, p] : model.named_parameters())
            if (name == "blocks.1.mlp.fc1.weight") p.grad_data()[5] = std::nanf("");
    };
    const TrainResult r = train(c, options);
    REQUIRE(r.status == TrainStatus::nonfinite);
    CHECK(contains(r.message, "step 9 (epoch 2, batch 3/7)"));
    CHECK(contains(r.message, "'blocks.1.mlp.fc1.weight' (64, 32) (element 5 is nan)"));
    CHECK(contains(r.message, "--skip-nonfinite"));
    const Checkpoint last = read_checkpoint(out.file("last.safetensors"));
    CHECK(last.state.epoch == 1);  // the end of the first epoch: untouched
    CHECK(last.state.step == 7);
}

TEST_CASE("train: a NaN loss stops the run; with skip_nonfinite the step is skipped and training goes on") {
    SmallData data;
    TempDir out;
    TrainConfig c = tiny_config("mnist", data.dir.str(), out.str());
    TrainOptions options;
    // An infinite bias makes one logit +inf, and log-softmax then computes inf - inf = NaN.
    options.on_batch = [](int64_t step, Batch&, ImageClassifier& model) {
        if (step != 3) return;
        for (auto& [name, p] : model.named_parameters())
            if (name == "head.bias") p.data()[0] = std::numeric_limits<float>::infinity();
    };
    TrainResult r = train(c, options);
    REQUIRE(r.status == TrainStatus::nonfinite);
    CHECK_MESSAGE(contains(r.message, "step 3 (epoch 1, batch 4/7): the loss is nan"), r.message);
    CHECK(!fs::exists(out.file("last.safetensors")));

    // A NaN pixel: the attention refuses its NaN scores; skip_nonfinite skips that one step.
    options.on_batch = [](int64_t step, Batch& batch, ImageClassifier&) {
        if (step == 3) batch.images.data()[0] = std::nanf("");
    };
    r = train(c, options);
    REQUIRE(r.status == TrainStatus::nonfinite);
    CHECK(contains(r.message, "step 3 (epoch 1, batch 4/7): the forward pass met a non-finite value"));
    c.skip_nonfinite = true;
    options.force = true;  // the folder holds the stopped run of another config: replace it
    r = train(c, options);
    REQUIRE(r.status == TrainStatus::completed);
    CHECK(r.epochs[0].skipped == 1);
    CHECK(r.epochs[1].skipped == 0);
    const Checkpoint last = read_checkpoint(out.file("last.safetensors"));
    for (const auto& [name, t] : last.model)
        for (int64_t j = 0; j < t.numel(); ++j) REQUIRE(std::isfinite(t.data()[j]));
}

// ============================================= checkpoints =============================================

TEST_CASE("checkpoint: round trip of the state; loading refuses wrong shapes, unknown and missing tensors") {
    TempDir out;
    TrainConfig c = tiny_config("cifar10", "data", out.str());
    Rng rng(1);
    std::unique_ptr<ImageClassifier> model = build_model(c, rng);
    std::unique_ptr<Optimizer> optimizer = build_optimizer(c, *model);
    TrainingState state;
    state.epoch = 3;
    state.batch = 5;
    state.step = 26;
    state.data_rng = Rng(11).state();
    state.model_rng = Rng(12).state();
    state.best_test_acc = 0.1 + 0.2;  // not exact in binary: must come back bit for bit
    state.best_epoch = 2;
    state.loss_sum = 123.456789012345678;
    state.correct = 40;
    state.seen = 160;
    std::vector<std::string> names = {"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"};
    const std::string path = out.file("x.safetensors");
    save_checkpoint(path, c, state, names, *model, optimizer.get());

    const Checkpoint ckpt = read_checkpoint(path);
    CHECK(to_json(ckpt.config) == to_json(c));
    CHECK(ckpt.class_names == names);
    CHECK(ckpt.state.epoch == 3);
    CHECK(ckpt.state.batch == 5);
    CHECK(ckpt.state.step == 26);
    CHECK(ckpt.state.data_rng == state.data_rng);
    CHECK(ckpt.state.model_rng == state.model_rng);
    CHECK(ckpt.state.best_test_acc == state.best_test_acc);
    CHECK(ckpt.state.loss_sum == state.loss_sum);
    CHECK(ckpt.model.size() == model->named_parameters().size() + model->named_buffers().size());
    CHECK(ckpt.optimizer.size() == optimizer->state().size());
    bool has_step = false;
    for (const auto& [name, t] : ckpt.optimizer) has_step = has_step || name == "step";
    CHECK(has_step);
    std::unique_ptr<ImageClassifier> rebuilt = model_from_checkpoint(ckpt);
    CHECK(rebuilt->named_parameters()[3].second.to_vector() == model->named_parameters()[3].second.to_vector());

    // A wrong shape: both shapes named.
    NamedTensors tensors = ckpt.model;
    for (auto& [name, t] : tensors)
        if (name == "head.weight") t = Tensor::zeros({10, 31});
    std::string msg = thrown_message([&] { load_model_state(*rebuilt, tensors, "ckpt"); });
    CHECK(contains(msg, "ckpt: tensor 'head.weight': the checkpoint has shape (10, 31) but the model expects (10, 32)"));
    // An unknown and a missing name: both listed.
    tensors = ckpt.model;
    for (auto& [name, t] : tensors)
        if (name == "norm.bias") name = "norm.beta";
    msg = thrown_message([&] { load_model_state(*rebuilt, tensors, "ckpt"); });
    CHECK(contains(msg, "the model has no 'norm.beta'"));
    CHECK(contains(msg, "the checkpoint lacks 'norm.bias'"));

    // A checkpoint of another model width does not load into this one.
    TrainConfig other = c;
    other.dim = 48;
    Rng rng2(1);
    std::unique_ptr<ImageClassifier> wide = build_model(other, rng2);
    msg = thrown_message([&] { load_model_state(*wide, ckpt.model, path); });
    CHECK(contains(msg, "(1, 1, 32)"));
    CHECK(contains(msg, "(1, 1, 48)"));

    // A plain safetensors file without the metadata is refused by name.
    save_safetensors(out.file("plain.safetensors"), model->named_parameters());
    msg = thrown_message([&] { read_checkpoint(out.file("plain.safetensors")); });
    CHECK(contains(msg, "metadata field 'patchgrad.format' is missing"));
}

TEST_CASE("config: JSON round trip; unknown, missing and mistyped keys are refused by name") {
    TrainConfig c = default_config("swin", "mnist");
    c.depths = {1, 3};
    c.lr = 0.1 + 0.2;
    const TrainConfig back = from_json(parse_json(to_json(c).dump(2)));
    CHECK(to_json(back) == to_json(c));
    CHECK(back.lr == c.lr);

    Json extra = to_json(c);
    extra.set("colour", "blue");
    CHECK(contains(thrown_message([&] { from_json(extra); }), "unknown key \"colour\""));
    Json::Object fields = to_json(c).as_object();
    fields.erase(fields.begin() + 3);
    CHECK(contains(thrown_message([&] { from_json(Json(fields)); }), "missing key \"data\""));
    Json typed = to_json(c);
    typed.set("epochs", "ten");
    CHECK(contains(thrown_message([&] { from_json(typed); }), "key \"epochs\""));
}

// ============================================= flags ====================================================

TEST_CASE("flags: defaults per dataset and model, overrides, and derived values") {
    const TrainConfig cifar = parse({});
    CHECK(cifar.model == "vit");
    CHECK(cifar.dataset == "cifar10");
    CHECK(cifar.epochs == 21);
    CHECK(cifar.batch_size == 128);
    CHECK(cifar.lr == 1e-3);
    CHECK(cifar.weight_decay == 0.05);
    CHECK(cifar.label_smoothing == 0.1);
    CHECK(cifar.clip_grad == 1.0);
    CHECK(cifar.augment);
    // The reference tiny ViT, pooling the mean of its 64 tokens instead of reading a CLS token (one token,
    // 128 numbers, and its position, 128 more, fewer), with a conv stem instead of the patch embedding.
    CHECK(cifar.pool == "mean");
    CHECK(cifar.stem == "conv");
    ViTConfig reference_with_stem;
    reference_with_stem.stem = Stem::conv;
    CHECK(vit_config(cifar).parameter_count() == reference_with_stem.parameter_count() - 2 * 128);
    ViTConfig reference_shape = vit_config(cifar);
    reference_shape.pooling = ViTConfig{}.pooling;
    reference_shape.stem = ViTConfig{}.stem;
    CHECK(reference_shape.parameter_count() == ViTConfig{}.parameter_count());

    const TrainConfig mnist = parse({"--dataset", "mnist"});
    CHECK(mnist.image_size == 28);
    CHECK(mnist.channels == 1);
    CHECK(mnist.patch == 7);
    CHECK(mnist.patch_tokens == "shifted");
    CHECK(mnist.dim == 64);
    CHECK(mnist.epochs == 22);
    CHECK(mnist.warmup_epochs == 1);
    CHECK(mnist.batch_size == 64);
    CHECK(mnist.lr == doctest::Approx(2e-3));
    CHECK(parse({"--dataset", "mnist", "--batch-size", "32"}).batch_size == 32);  // a flag still wins

    // The tiny Swin chosen on CIFAR-10's validation split: the ViT's conv stem to an 8 x 8 grid, two stages.
    const TrainConfig swin = parse({"--model", "swin"});
    CHECK((swin.patch == 4 && swin.stem == "conv" && swin.embed_dim == 128 && swin.window == 4));
    CHECK((swin.depths == std::vector<int64_t>{4, 2} && swin.swin_heads == std::vector<int64_t>{4, 8}));
    const TrainConfig reference_swin = parse({"--model", "swin", "--stem", "patch", "--patch", "2", "--embed-dim", "64",
                                              "--depths", "2,2,2", "--swin-heads", "2,4,8"});
    CHECK(swin_config(reference_swin).parameter_count() == SwinConfig{}.parameter_count());  // as docs/training.md says
    const TrainConfig swin_mnist = parse({"--model", "swin", "--dataset", "mnist"});
    CHECK(swin_mnist.window == 7);
    CHECK(swin_mnist.depths == std::vector<int64_t>{2, 2});

    const TrainConfig ratio = parse({"--dim", "64", "--mlp-ratio", "3"});
    CHECK(ratio.mlp_dim == 192);
    const TrainConfig custom = parse({"--epochs=3", "--no-augment", "--optimizer", "sgd", "--pos-embed", "sincos_2d"});
    CHECK(custom.epochs == 3);
    CHECK(custom.warmup_epochs == doctest::Approx(0.6));  // the default 2, capped at a fifth of the run
    CHECK(!custom.augment);
    CHECK(custom.optimizer == "sgd");
    CHECK(custom.pos_embed == "sincos_2d");
}

TEST_CASE("flags: unknown flags, missing values and impossible values are one clear UsageError") {
    CHECK(contains(usage_error({"--bogus"}), "patchgrad train: unknown flag '--bogus'"));
    CHECK(contains(usage_error({"--epochs"}), "--epochs needs a value"));
    CHECK(contains(usage_error({"--batch-size", "0"}), "--batch-size expects a whole number in [1, 65536], got '0'"));
    CHECK(contains(usage_error({"--lr", "abc"}), "--lr expects a number"));
    CHECK(contains(usage_error({"--heads", "3"}), "--heads 3 does not divide --dim 128"));
    CHECK(contains(usage_error({"--patch", "5"}), "--patch 5 does not divide the 32x32 images of cifar10"));
    CHECK(contains(usage_error({"--dataset", "mnist", "--patch", "8"}), "does not divide the 28x28 images of mnist"));
    CHECK(contains(usage_error({"--model", "swin", "--window", "3"}), "--window 3 does not divide the grid of stage 0"));
    CHECK(contains(usage_error({"--model", "swin", "--swin-heads", "3,8"}), "--swin-heads 3 does not divide"));
    CHECK(contains(usage_error({"--model", "swin", "--depths", "2,2,2"}), "--depths and --swin-heads need one entry"));
    CHECK(contains(usage_error({"--model", "swin", "--dim", "64"}), "--dim shapes a ViT but the model is swin"));
    CHECK(contains(usage_error({"--window", "4"}), "--window shapes a Swin but the model is vit"));
    CHECK(contains(usage_error({"--mlp-ratio", "2", "--mlp-dim", "64"}), "--mlp-ratio and --mlp-dim both"));
    CHECK(contains(usage_error({"--min-lr", "0.1"}), "--min-lr must be in [0, --lr]"));
    CHECK(contains(usage_error({"--epochs", "2", "--warmup-epochs", "3"}), "--warmup-epochs must be in [0, --epochs]"));
    CHECK(contains(usage_error({"--pos-embed", "sincos_2d", "--dim", "66", "--heads", "2"}),
                   "sincos_2d needs --dim divisible by 4"));
    CHECK(contains(thrown_message([] { parse({"--resume", "/nonexistent/last.safetensors"}); }),
                   "/nonexistent/last.safetensors"));

    // run_train parses before it does anything: the same errors, as the command line exits with code 2.
    std::vector<std::string> words = {"patchgrad", "train", "--batch-size", "0"};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    CHECK_THROWS_AS(run_train(static_cast<int>(argv.size()), argv.data()), UsageError);
}
