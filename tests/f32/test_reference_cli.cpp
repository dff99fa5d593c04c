// The textbook path end to end, in float32 as the program runs: a short training run with --reference
// follows the fast run's loss curve within a stated tolerance (the same function, computed in a different
// order, so float32 rounding differs), and every command that runs a model takes --reference.
#include <cmath>
#include <fstream>
#include <iterator>
#include <sstream>

#include "examples/cli/checkpoint.h"
#include "examples/cli/commands.h"
#include "examples/cli/seeing_inside.h"
#include "tests/f32/tiny_run.h"
#include "tests/helpers.h"
#include "tests/run_command.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::run_command, testing::SmallData, testing::TempDir;

namespace {

// The loss of every step of a run.
std::vector<double> loss_curve(TrainConfig config) {
    std::vector<double> losses;
    TrainOptions options;
    options.after_step = [&](const StepInfo& info) { losses.push_back(info.loss); };
    const TrainResult result = train(config, options);
    REQUIRE(result.status == TrainStatus::completed);
    return losses;
}

}  // namespace

TEST_CASE("reference kernels: a float32 training run on the textbook path follows the fast path's curve") {
    SmallData data;
    TempDir fast_out, reference_out;
    TrainConfig config = testing::tiny_config("cifar10", data.dir.str(), fast_out.str());  // 2 epochs, 14 steps
    const std::vector<double> fast = loss_curve(config);
    config.out = reference_out.str();
    config.kernels = Kernels::reference;
    const std::vector<double> reference = loss_curve(config);
    REQUIRE(fast.size() == reference.size());
    REQUIRE(fast.size() == 14);
    // Stated tolerance: 1e-4 relative per step (docs/models.md). float32 rounds each op's result to 6e-8;
    // the two paths round in different places, and 14 AdamW steps carry the differences forward (about
    // 1e-7 measured here).
    double worst = 0;
    for (size_t i = 0; i < fast.size(); ++i) worst = std::max(worst, std::abs(fast[i] - reference[i]) / fast[i]);
    CHECK(worst < 1e-4);
    MESSAGE("largest relative difference of the two loss curves over 14 steps: ", worst);
    // The paths really differ (a run that ignored the choice would give identical bits).
    CHECK(worst > 0);
}

TEST_CASE("reference kernels: train, eval, predict, attention, graph, gradcheck and bench take --reference") {
    SmallData data;
    TempDir runs;
    const std::string out = runs.str() + "/run";
    TrainConfig config = testing::tiny_config("cifar10", data.dir.str(), out);
    config.epochs = 1;
    REQUIRE(train(config, TrainOptions{}).status == TrainStatus::completed);
    const std::string ckpt = out + "/last.safetensors";

    // The flag is parsed into the config, and not saved with the run (a run may go on with either path).
    TrainConfig parsed;
    std::string resume;
    std::vector<std::string> words = {"patchgrad", "train", "--reference", "--data", data.dir.str(), "--out",
                                      runs.str() + "/other"};
    std::vector<char*> argv;
    for (std::string& w : words) argv.push_back(w.data());
    REQUIRE(parse_train_config(static_cast<int>(argv.size()), argv.data(), parsed, resume));
    CHECK(parsed.kernels == Kernels::reference);
    CHECK(!contains(to_json(parsed).dump(), "reference"));

    // A checkpoint's model on either path: the same logits within float32 rounding.
    const Checkpoint checkpoint = read_checkpoint(ckpt);
    auto fast_model = model_from_checkpoint(checkpoint, Kernels::fast);
    auto reference_model = model_from_checkpoint(checkpoint, Kernels::reference);
    CHECK(reference_model->kernels() == Kernels::reference);
    {
        Rng rng(1), unused(0);
        const Tensor images = Tensor::normal({3, 3, 32, 32}, 0, 1, rng);
        NoGradGuard no_grad;
        const Tensor a = fast_model->forward(images, unused), b = reference_model->forward(images, unused);
        for (int64_t i = 0; i < a.numel(); ++i) CHECK(std::abs(a.data()[i] - b.data()[i]) < 1e-4);
    }

    const std::string data_flag = data.dir.str();
    CHECK(run_command(run_eval, {"patchgrad", "eval", "--checkpoint", ckpt, "--data", data_flag, "--reference"}) == 0);
    CHECK(run_command(run_predict, {"patchgrad", "predict", "--checkpoint", ckpt, "--data", data_flag, "--index", "3",
                                    "--reference"}) == 0);
    CHECK(run_command(run_attention, {"patchgrad", "attention", "--checkpoint", ckpt, "--data", data_flag, "--index",
                                      "3", "--out", runs.str() + "/a.png", "--reference"}) == 0);
    CHECK(run_command(run_gradcheck, {"patchgrad", "gradcheck", "vit", "swin_block", "--reference"}) == 0);
    CHECK(run_command(run_bench, {"patchgrad", "bench", "--layers", "--reference", "--batch", "2", "--steps", "1",
                                  "--warmup", "0"}) == 0);
    CHECK(run_command(run_bench, {"patchgrad", "bench", "--reference", "--batch", "2", "--steps", "1", "--warmup",
                                  "0"}) == 0);
    // The textbook graph is the paper's steps op by op: more nodes than the fused one's.
    TrainConfig tiny = tiny_config("vit");
    const size_t fast_nodes = training_graph_dot(tiny).size();
    tiny.kernels = Kernels::reference;
    CHECK(training_graph_dot(tiny).size() > fast_nodes);
    CHECK(run_command(run_graph, {"patchgrad", "graph", "--tiny", "--reference", "--out", runs.str() + "/g.dot"}) == 0);
    std::ifstream dot_file(runs.str() + "/g.dot");
    const std::string dot((std::istreambuf_iterator<char>(dot_file)), std::istreambuf_iterator<char>());
    CHECK(contains(dot, "\"exp"));  // the softmax written out: exp, sum, div
}
