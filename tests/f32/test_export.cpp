// patchgrad export / import (examples/cli/export.cpp, docs/interop.md): a checkpoint's weights go out under
// timm's names and layouts with nothing but the config and class names, come back as a checkpoint with the
// very same numbers and predictions (ViT and Swin), and that checkpoint fine-tunes with train --resume.
// export refuses what is not a checkpoint; import refuses missing, unknown and misshaped tensors by name,
// takes its config from the file, a config.json or train's flags, and forgives timm's derived buffers.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/seeing_inside.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir;
using testing::run_command;

namespace {

// A checkpoint of `config`'s model with seeded random weights and an optimizer state, as train saves one.
void save_tiny_checkpoint(const std::string& path, const TrainConfig& config) {
    Rng rng(11);
    const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    const std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    TrainingState state;
    state.epoch = 3;
    state.step = 30;
    state.data_rng = Rng(1).state();
    state.model_rng = Rng(2).state();
    std::vector<std::string> names;
    for (int64_t k = 0; k < config.num_classes; ++k) names.push_back("class" + std::to_string(k));
    save_checkpoint(path, config, state, names, *model, optimizer.get());
}

Tensor logits_of(const Checkpoint& ckpt) {
    NoGradGuard no_grad;
    Rng rng(99);
    const Tensor images = Tensor::normal({2, ckpt.config.channels, ckpt.config.image_size, ckpt.config.image_size}, 0, 1, rng);
    return model_from_checkpoint(ckpt)->forward(images, rng);
}

void check_identical(const NamedTensors& a, const NamedTensors& b) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(a[i].first == b[i].first);
        CHECK(a[i].second.shape() == b[i].second.shape());
        CHECK_MESSAGE(a[i].second.to_vector() == b[i].second.to_vector(), a[i].first, " differs");
    }
}

// The exported file's tensors without its metadata, with `edit` applied: what another tool might write.
std::string rewritten(const TempDir& dir, const std::string& exported, const std::string& name,
                      const std::function<void(NamedTensors&)>& edit) {
    NamedTensors tensors = load_safetensors(exported).tensors;
    edit(tensors);
    const std::string path = dir.file(name);
    save_safetensors(path, tensors);
    return path;
}

const std::vector<std::string> kTinyVitFlags = {"--model", "vit", "--patch", "8",  "--dim",     "16",    "--depth",
                                                "2",       "--heads", "2",   "--mlp-dim", "32",   "--pool",
                                                "cls",     "--stem",  "patch"};  // timm's ViT has no conv stem

}  // namespace

TEST_CASE("export -> import: the same weights and predictions, ViT and Swin") {
    for (const char* kind : {"vit", "swin"}) {
        TempDir dir;
        const TrainConfig config = tiny_config(kind);
        const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors"),
                          back = dir.file("back.safetensors");
        save_tiny_checkpoint(ckpt, config);
        REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);

        // weights alone: the model's tensors, timm's names and layouts, config and class names as metadata
        const SafetensorsFile file = load_safetensors(weights);
        const Checkpoint original = read_checkpoint(ckpt);
        check_identical(file.tensors, original.model);
        for (const auto& [name, t] : file.tensors) CHECK(name.rfind("optimizer.", 0) != 0);
        CHECK(file.tensor("patch_embed.proj.weight").shape() ==
              Shape{kind == std::string("vit") ? 16 : 8, 3, config.patch, config.patch});  // (D, C, P, P), a conv's
        CHECK(file.find_metadata("epoch") == nullptr);
        CHECK(*file.find_metadata("patchgrad.format") == "patchgrad-weights");
        CHECK(*file.find_metadata("class_names") == "[\"class0\",\"class1\",\"class2\",\"class3\",\"class4\","
                                                    "\"class5\",\"class6\",\"class7\",\"class8\",\"class9\"]");
        const Json kwargs = parse_json(*file.find_metadata("timm_kwargs"));
        CHECK(kwargs.at("patch_size").as_int() == config.patch);
        CHECK(kwargs.at("num_classes").as_int() == 10);

        REQUIRE(run_command(run_import, {"patchgrad", "import", weights, "--out", back}) == 0);
        const Checkpoint imported = read_checkpoint(back);  // a checkpoint that eval and predict read
        check_identical(imported.model, original.model);
        CHECK(imported.class_names == original.class_names);
        CHECK(imported.state.epoch == 0);  // a fresh start for fine-tuning...
        CHECK(imported.optimizer.size() == original.optimizer.size());  // ...with a full optimizer state
        CHECK(resume_mismatch(imported.config, config).empty());
        CHECK(logits_of(imported).to_vector() == logits_of(original).to_vector());
    }
}

TEST_CASE("export: a model timm cannot build (conv stem, shifted patch tokens, 2D learned positions) has no timm_kwargs") {
    for (const auto& setting : std::vector<std::pair<std::string, std::string>>{
             {"stem", "conv"}, {"patch_tokens", "shifted"}, {"pos_embed", "learned_2d"}, {"stem", "patch"}}) {
        const std::string& key = setting.first;  // not a structured binding: clang before 16 cannot capture one
        const std::string& value = setting.second;
        CAPTURE(key);
        CAPTURE(value);
        TempDir dir;
        TrainConfig config = tiny_config("vit");
        if (key == "stem") config.stem = value;
        if (key == "patch_tokens") config.patch_tokens = value;
        if (key == "pos_embed") config.pos_embed = value;
        const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors");
        save_tiny_checkpoint(ckpt, config);
        REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
        const bool timm_can = value == "patch";  // the tiny ViT as it is: patches, plain, learned 1D
        CHECK((load_safetensors(weights).find_metadata("timm_kwargs") != nullptr) == timm_can);
    }
    for (const std::string stem : {"conv", "patch"}) {  // a Swin's stem: timm's Swin cuts patches too
        CAPTURE(stem);
        TempDir dir;
        TrainConfig config = tiny_config("swin");
        config.stem = stem;
        const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors");
        save_tiny_checkpoint(ckpt, config);
        REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
        CHECK((load_safetensors(weights).find_metadata("timm_kwargs") != nullptr) == (stem == "patch"));
    }
}

TEST_CASE("export refuses what is not a checkpoint") {
    TempDir dir;
    const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors");
    save_tiny_checkpoint(ckpt, tiny_config("vit"));
    REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
    CHECK(contains(thrown_message([&] { run_command(run_export, {"patchgrad", "export", weights, dir.file("x")}); }),
                   "metadata field 'patchgrad.format' is 'patchgrad-weights', expected 'patchgrad-checkpoint'"));
    testing::write_bytes(dir.file("junk"), {1, 2, 3});
    CHECK(!thrown_message([&] { run_command(run_export, {"patchgrad", "export", dir.file("junk"), dir.file("y")}); }).empty());
    CHECK(!std::filesystem::exists(dir.file("x")));
    CHECK_THROWS_AS(run_command(run_export, {"patchgrad", "export", ckpt}), UsageError);
}

TEST_CASE("import refuses missing, unknown and misshaped tensors, naming them") {
    TempDir dir;
    const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors");
    save_tiny_checkpoint(ckpt, tiny_config("vit"));
    REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
    const auto import_with_flags = [&](const std::string& path) {
        std::vector<std::string> words = {"patchgrad", "import", path, "--out", dir.file("out.safetensors")};
        words.insert(words.end(), kTinyVitFlags.begin(), kTinyVitFlags.end());
        return thrown_message([&] { run_command(run_import, words); });
    };
    const std::string missing = rewritten(dir, weights, "missing.safetensors", [](NamedTensors& t) {
        t.erase(std::find_if(t.begin(), t.end(), [](const auto& p) { return p.first == "blocks.0.attn.qkv.bias"; }));
    });
    CHECK(contains(import_with_flags(missing), "the checkpoint lacks 'blocks.0.attn.qkv.bias'"));
    const std::string extra = rewritten(dir, weights, "extra.safetensors",
                                        [](NamedTensors& t) { t.emplace_back("fc_norm.weight", Tensor::ones({16})); });
    CHECK(contains(import_with_flags(extra), "the model has no 'fc_norm.weight'"));
    const std::string misshaped = rewritten(dir, weights, "misshaped.safetensors", [](NamedTensors& t) {
        for (auto& [name, tensor] : t)
            if (name == "head.weight") tensor = Tensor::zeros({16, 10});  // transposed
    });
    CHECK(contains(import_with_flags(misshaped), "tensor 'head.weight': the checkpoint has shape (16, 10) but the model "
                                                 "expects (10, 16)"));
    CHECK(!std::filesystem::exists(dir.file("out.safetensors")));

    // A file that carries its config takes no shape flags; --out is required; --resume is train's.
    CHECK(contains(thrown_message([&] {
                       run_command(run_import, {"patchgrad", "import", weights, "--out", dir.file("o"), "--dim", "32"});
                   }),
                   "carries its own config; the flag '--dim' cannot change it"));
    CHECK_THROWS_AS(run_command(run_import, {"patchgrad", "import", weights}), UsageError);
    CHECK_THROWS_AS(run_command(run_import, {"patchgrad", "import", weights, "--out", "o", "--resume", "x"}), UsageError);
}

TEST_CASE("import: the config from train's flags or a config.json; timm's derived buffers forgiven") {
    TempDir dir;
    const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors");
    save_tiny_checkpoint(ckpt, tiny_config("vit"));
    REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
    const Checkpoint original = read_checkpoint(ckpt);

    // bare tensors, as PyTorch would write them, with the shape given by train's flags
    const std::string bare = rewritten(dir, weights, "bare.safetensors", [](NamedTensors&) {});
    std::vector<std::string> words = {"patchgrad", "import", bare, "--out", dir.file("a.safetensors")};
    words.insert(words.end(), kTinyVitFlags.begin(), kTinyVitFlags.end());
    REQUIRE(run_command(run_import, words) == 0);
    const Checkpoint from_flags = read_checkpoint(dir.file("a.safetensors"));
    CHECK(from_flags.config.dim == 16);
    CHECK(from_flags.class_names.at(3) == "cat");  // CIFAR-10's own names when the file has none
    CHECK(logits_of(from_flags).to_vector() == logits_of(original).to_vector());

    // ... or with the shape from a run's config.json
    write_file_atomically(dir.file("config.json"), to_json(original.config).dump(2));
    REQUIRE(run_command(run_import, {"patchgrad", "import", bare, "--config", dir.file("config.json"), "--out",
                                     dir.file("b.safetensors")}) == 0);
    CHECK(logits_of(read_checkpoint(dir.file("b.safetensors"))).to_vector() == logits_of(original).to_vector());

    // Swin: timm's attn_mask buffers are ignored, a missing relative_position_index is computed
    const std::string swin_ckpt = dir.file("swin.safetensors"), swin_weights = dir.file("swin_weights.safetensors");
    save_tiny_checkpoint(swin_ckpt, tiny_config("swin"));
    REQUIRE(run_command(run_export, {"patchgrad", "export", swin_ckpt, swin_weights}) == 0);
    const std::string timm_like = rewritten(dir, swin_weights, "timm_like.safetensors", [](NamedTensors& t) {
        std::erase_if(t, [](const auto& p) { return p.first.ends_with("relative_position_index"); });
        t.emplace_back("layers.0.blocks.1.attn_mask", Tensor::zeros({4, 16, 16}));
    });
    const Checkpoint swin_original = read_checkpoint(swin_ckpt);
    write_file_atomically(dir.file("swin.json"), to_json(swin_original.config).dump(2));
    REQUIRE(run_command(run_import, {"patchgrad", "import", timm_like, "--config", dir.file("swin.json"), "--out",
                                     dir.file("c.safetensors")}) == 0);
    const Checkpoint swin_back = read_checkpoint(dir.file("c.safetensors"));
    check_identical(swin_back.model, swin_original.model);
    CHECK(logits_of(swin_back).to_vector() == logits_of(swin_original).to_vector());

    // a relative_position_index that is not ours is refused
    const std::string odd_index = rewritten(dir, swin_weights, "odd.safetensors", [](NamedTensors& t) {
        for (auto& [name, tensor] : t)
            if (name == "layers.0.blocks.0.attn.relative_position_index") tensor = Tensor::zeros(tensor.shape());
    });
    CHECK(contains(thrown_message([&] {
                       run_command(run_import, {"patchgrad", "import", odd_index, "--config", dir.file("swin.json"),
                                                "--out", dir.file("d.safetensors")});
                   }),
                   "tensor 'layers.0.blocks.0.attn.relative_position_index' differs from the index this model computes"));
}

TEST_CASE("import: the checkpoint fine-tunes with train --resume") {
    TempDir dir;
    // CIFAR-10's files, generated: 5 training batches of 8 images and a test batch of 8
    std::filesystem::create_directories(dir.file("data/cifar-10-batches-bin"));
    Rng rng(3);
    for (const char* name : {"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"}) {
        std::vector<uint8_t> bytes;
        for (int i = 0; i < 8; ++i) {
            bytes.push_back(static_cast<uint8_t>(i % 10));
            for (int j = 0; j < 3072; ++j) bytes.push_back(static_cast<uint8_t>(rng.randint(256)));
        }
        testing::write_bytes(dir.file("data/cifar-10-batches-bin/") + name + ".bin", bytes);
    }
    const std::string ckpt = dir.file("ckpt.safetensors"), weights = dir.file("weights.safetensors"),
                      imported = dir.file("run/imported.safetensors");
    save_tiny_checkpoint(ckpt, tiny_config("vit"));
    REQUIRE(run_command(run_export, {"patchgrad", "export", ckpt, weights}) == 0);
    std::filesystem::create_directories(dir.file("run"));
    REQUIRE(run_command(run_import, {"patchgrad", "import", weights, "--out", imported}) == 0);

    std::vector<std::string> words = {"patchgrad", "train", "--resume", imported, "--epochs", "1", "--warmup-epochs", "0",
                                      "--data", dir.file("data")};
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    TrainConfig config;
    TrainOptions options;
    REQUIRE(parse_train_config(static_cast<int>(argv.size()), argv.data(), config, options.resume));
    const TrainResult result = train(config, options);
    CHECK(result.status == TrainStatus::completed);
    REQUIRE(result.epochs.size() == 1);
    const Checkpoint tuned = read_checkpoint(dir.file("run/last.safetensors"));
    CHECK(tuned.state.epoch == 1);
    CHECK(tuned.model.at(0).second.to_vector() != read_checkpoint(imported).model.at(0).second.to_vector());
}
