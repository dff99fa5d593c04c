// What the command line does with files and folders it should not trust: a checkpoint whose weights are
// NaN or whose derived buffers were edited.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir, testing::run_command, testing::write_bytes, testing::idx_images, testing::idx_labels;

namespace {

// A tiny MNIST model's config (a ViT, or a Swin with one window per image).
TrainConfig tiny_config(const std::string& model, const std::string& pos_embed = "learned_1d") {
    TrainConfig c = default_config(model, "mnist");
    if (model == "vit") {
        c.patch = 7, c.dim = 8, c.depth = 1, c.heads = 2, c.mlp_dim = 16, c.pos_embed = pos_embed;
    } else {
        c.patch = 7, c.embed_dim = 8, c.depths = {1}, c.swin_heads = {2}, c.window = 4, c.mlp_ratio = 2;
    }
    c.threads = 1;
    return c;
}

// A checkpoint of `config`'s model with an optimizer state, as train saves one.
void save_tiny_checkpoint(const std::string& path, const TrainConfig& config,
                          std::vector<std::string> names = {}) {
    Rng rng(5);
    const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    const std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    TrainingState state;
    state.data_rng = Rng(1).state();
    state.model_rng = Rng(2).state();
    for (int64_t k = static_cast<int64_t>(names.size()); k < config.num_classes; ++k)
        names.push_back("class" + std::to_string(k));
    save_checkpoint(path, config, state, names, *model, optimizer.get());
}

// The checkpoint at `path` rewritten with element 0 of tensor `name` set to `value` (a valid checksum).
void set_element(const std::string& path, const std::string& name, Scalar value) {
    SafetensorsFile file = load_safetensors(path);
    bool found = false;
    for (auto& [key, t] : file.tensors)
        if (key == name) t.data()[0] = value, found = true;
    REQUIRE_MESSAGE(found, name);
    save_safetensors(path, file.tensors, file.metadata);
}

std::string load_error(const std::string& path) {
    return thrown_message([&] { model_from_checkpoint(read_checkpoint(path)); });
}

}  // namespace

TEST_CASE("checkpoint: NaN and Inf are refused on load, in weights and optimizer state, naming the tensor") {
    TempDir dir;
    const std::string path = dir.file("last.safetensors");
    save_tiny_checkpoint(path, tiny_config("vit"));
    CHECK(load_error(path) == "");
    set_element(path, "head.weight", std::nanf(""));
    CHECK(contains(load_error(path), path + ": tensor 'head.weight' (10, 8): element 0 is nan, expected a finite number"));
    save_tiny_checkpoint(path, tiny_config("vit"));
    set_element(path, "optimizer.exp_avg_sq.head.bias", INFINITY);
    CHECK(contains(load_error(path), "tensor 'optimizer.exp_avg_sq.head.bias' (10,): element 0 is inf"));
    // Weights alone (import) are checked too.
    Rng rng(1);
    const std::unique_ptr<ImageClassifier> model = build_model(tiny_config("vit"), rng);
    NamedTensors tensors = model->named_parameters();
    tensors[0].second = tensors[0].second.clone();
    tensors[0].second.data()[3] = -INFINITY;
    CHECK(contains(thrown_message([&] { load_model_state(*model, tensors, "w.safetensors"); }),
                   "w.safetensors: tensor '" + tensors[0].first + "'"));
}

TEST_CASE("checkpoint: derived buffers are recomputed on load and must agree with the file's") {
    TempDir dir;
    const std::string swin = dir.file("swin.safetensors"), vit = dir.file("vit.safetensors");
    save_tiny_checkpoint(swin, tiny_config("swin"));
    save_tiny_checkpoint(vit, tiny_config("vit", "sincos_2d"));
    CHECK(load_error(swin) == "");
    CHECK(load_error(vit) == "");
    set_element(swin, "layers.0.blocks.0.attn.relative_position_index", 3);
    CHECK(contains(load_error(swin), "tensor 'layers.0.blocks.0.attn.relative_position_index' element 0 is 3 but "
                                     "the model computes 24 from its config"));
    set_element(vit, "pos_embed", 0.5);
    CHECK(contains(load_error(vit), "tensor 'pos_embed' element 0 is 0.5 but the model computes"));
}
