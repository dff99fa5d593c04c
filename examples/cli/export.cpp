// patchgrad export / import: a model's weights in and out, under timm's names and layouts
// (docs/interop.md).
//
//   patchgrad export runs/default/best.safetensors vit.safetensors      # weights only, for PyTorch
//   patchgrad import vit.safetensors --out imported.safetensors         # back into a checkpoint
//   patchgrad import timm_weights.safetensors --model vit --dim 192 --out ckpt.safetensors
//
// Names and layouts. patchgrad registers every parameter under timm's state_dict name and in timm's layout
// (docs/models.md): Linear weights (out, in), qkv fused as (3D, D), patch_embed.proj.weight as the conv
// weight (D, C, P, P), cls_token (1, 1, D), pos_embed (1, T, D), relative_position_bias_table
// ((2M-1)^2, nH). So export copies the tensors as they are; there is nothing to transpose.
//
// The exported file holds the model's parameters and buffers (relative_position_index, fixed sin-cos
// pos_embed) as float32, and as metadata only
//   format "pt"    patchgrad.format "patchgrad-weights"    config (the TrainConfig JSON)    class_names
//   timm_kwargs    the keyword arguments of timm's VisionTransformer / SwinTransformer that build the same
//                  model (absent for the learned_2d position embedding and shifted patches, which timm does
//                  not have)
// (plus patchgrad.checksum, which save_safetensors adds to every file), no optimizer state and no training bookkeeping. eval and predict refuse it (it is not a checkpoint);
// import turns it back into one.
//
// import reads a safetensors file of weights and writes a checkpoint at epoch 0 with a fresh optimizer
// state, which eval and predict read and `train --resume` fine-tunes (same dataset; change --epochs, --lr
// freely). The model's config comes, in this order, from the file's own "config" metadata (a file made by
// export), from --config CONFIG.json (a run's config.json), or from train's flags (--model, --dataset and
// the shape flags, with train's defaults). Every tensor must be there with the model's shape; a missing,
// unknown or misshaped tensor is refused by name. Two of timm's derived buffers are forgiven: a missing
// "...relative_position_index" is computed (a present one must equal ours), and "...attn_mask" is ignored.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "core/io/atomic_file.h"
#include "datasets/cifar10.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"

namespace patchgrad::cli {

namespace {

constexpr const char* kWeightsFormat = "patchgrad-weights";

NamedTensors model_tensors(const ImageClassifier& model) {
    NamedTensors tensors = model.named_parameters();
    for (const auto& buffer : model.named_buffers()) tensors.push_back(buffer);
    return tensors;
}

bool ends_with(const std::string& text, const std::string& end) {
    return text.size() >= end.size() && text.compare(text.size() - end.size(), end.size(), end) == 0;
}

Json int_array(const std::vector<int64_t>& values) {
    Json::Array items;
    for (int64_t v : values) items.emplace_back(v);
    return Json(items);
}

// timm's constructor arguments for the same model; null when timm has no counterpart.
Json timm_kwargs(const TrainConfig& c) {
    Json kwargs = Json::object();
    kwargs.set("img_size", c.image_size).set("in_chans", c.channels).set("num_classes", c.num_classes);
    kwargs.set("patch_size", c.patch).set("mlp_ratio", c.mlp_ratio);
    if (c.stem == "conv") return Json();  // timm's ViT and Swin both cut patches
    if (c.model == "swin") {
        kwargs.set("embed_dim", c.embed_dim).set("depths", int_array(c.depths));
        kwargs.set("num_heads", int_array(c.swin_heads)).set("window_size", c.window);
        return kwargs;
    }
    if (c.pos_embed == "learned_2d" || c.patch_tokens == "shifted")
        return Json();  // timm's VisionTransformer has none of them
    kwargs.set("embed_dim", c.dim).set("depth", c.depth).set("num_heads", c.heads);
    kwargs.set("class_token", c.pool == "cls").set("global_pool", c.pool == "cls" ? "token" : "avg");
    kwargs.set("fc_norm", false);  // patchgrad normalises before pooling (timm's default for "token")
    return kwargs;
}

std::vector<std::string> default_class_names(const TrainConfig& config) {
    std::vector<std::string> names;
    for (int64_t k = 0; k < config.num_classes; ++k)
        names.push_back(config.dataset == "cifar10" && config.num_classes == 10 ? kCifar10Classes[k]
                                                                               : std::to_string(k));
    return names;
}

Json class_names_json(const std::vector<std::string>& names) {
    Json::Array items;
    for (const std::string& name : names) items.emplace_back(name);
    return Json(items);
}

// The file's tensors, made to fit `model` where timm's derived buffers differ (see the top of this file).
NamedTensors fitted_tensors(const SafetensorsFile& file, const ImageClassifier& model, const std::string& path) {
    NamedTensors tensors;
    for (const auto& [name, t] : file.tensors)
        if (!ends_with(name, ".attn_mask")) tensors.emplace_back(name, t);
    for (const auto& [name, buffer] : model.named_buffers()) {
        if (!ends_with(name, ".relative_position_index")) continue;
        // [&name = name]: clang before 16 cannot capture a structured binding (make fuzz builds with clang).
        const auto given = std::find_if(tensors.begin(), tensors.end(), [&name = name](const auto& pair) { return pair.first == name; });
        if (given == tensors.end()) {
            tensors.emplace_back(name, buffer.clone());
        } else if (given->second.shape() == buffer.shape()) {
            check_io(given->second.to_vector() == buffer.to_vector(), path, ": tensor '", name,
                     "' differs from the index this model computes (another window convention?)");
        }  // a shape mismatch is reported by load_model_state, with both shapes
    }
    return tensors;
}

struct ImportArgs {
    std::string weights, out, config_path;
    std::vector<std::string> train_flags;  // forwarded to train's parser
};

void print_import_help() {
    std::printf(
        "usage: patchgrad import WEIGHTS.safetensors --out CKPT.safetensors [--config CONFIG.json] [TRAIN FLAGS]\n\n"
        "Makes a training checkpoint (epoch 0, fresh optimizer state) from a safetensors file of weights under\n"
        "timm's names, for eval, predict and fine-tuning with train --resume. The model's config comes from\n"
        "the file's own metadata (a file made by patchgrad export), else from --config (a run's config.json),\n"
        "else from train's model and dataset flags (--model, --dataset, --dim, --depth, --heads, --mlp-dim,\n"
        "--patch, --pos-embed, --pool, --embed-dim, --depths, --swin-heads, --window, ...: patchgrad train\n"
        "--help). Every tensor must be present with the model's shape. docs/interop.md explains.\n");
}

// argv: patchgrad import WEIGHTS [--out CKPT] [--config FILE] [train flags...]
ImportArgs parse_import_args(int argc, char** argv) {
    ImportArgs a;
    for (int i = 2; i < argc; ++i) {
        const std::string word = argv[i];
        const auto value_of = [&](const std::string& flag, std::string& target) {
            if (word == flag) {
                if (i + 1 >= argc) throw UsageError("patchgrad import: " + flag + " needs a value");
                target = argv[++i];
                return true;
            }
            if (word.rfind(flag + "=", 0) == 0) {
                target = word.substr(flag.size() + 1);
                return true;
            }
            return false;
        };
        if (value_of("--out", a.out) || value_of("--config", a.config_path)) continue;
        if (word == "--resume" || word.rfind("--resume=", 0) == 0)
            throw UsageError("patchgrad import: --resume is train's; import makes a checkpoint to resume from");
        if (i == 2 && !word.empty() && word[0] != '-') {
            a.weights = word;
            continue;
        }
        a.train_flags.push_back(word);
    }
    if (a.weights.empty())
        throw UsageError("patchgrad import: the first argument must be the WEIGHTS.safetensors file (see --help)");
    if (a.out.empty()) throw UsageError("patchgrad import: --out CKPT.safetensors is required (see --help)");
    return a;
}

TrainConfig import_config(const ImportArgs& a, const SafetensorsFile& file) {
    const std::string* embedded = file.find_metadata("config");
    if (embedded || !a.config_path.empty()) {
        if (!a.train_flags.empty())
            throw UsageError("patchgrad import: " +
                             (embedded ? a.weights + " carries its own config" : std::string("--config gives the config")) +
                             "; the flag '" + a.train_flags[0] + "' cannot change it");
        const std::string source = embedded ? a.weights + ": metadata field 'config'" : a.config_path;
        try {
            TrainConfig config = embedded ? from_json(parse_json(*embedded, source)) : read_config_file(a.config_path);
            validate(config);
            return config;
        } catch (const UsageError& error) {
            throw std::runtime_error(source + ": " + error.what());
        }
    }
    std::vector<std::string> words = {"patchgrad", "import"};
    words.insert(words.end(), a.train_flags.begin(), a.train_flags.end());
    std::vector<char*> train_argv;
    for (std::string& word : words) train_argv.push_back(word.data());
    TrainConfig config;
    std::string resume;
    parse_train_config(static_cast<int>(train_argv.size()), train_argv.data(), config, resume);
    return config;
}

std::vector<std::string> import_class_names(const SafetensorsFile& file, const TrainConfig& config,
                                            const std::string& path) {
    const std::string* text = file.find_metadata("class_names");
    if (!text) return default_class_names(config);
    const Json names = parse_json(*text, "metadata field 'class_names'");
    std::vector<std::string> out;
    if (names.is_array())
        for (const Json& name : names.as_array())
            if (name.is_string()) out.push_back(name.as_string());
    if (static_cast<int64_t>(out.size()) != config.num_classes) return default_class_names(config);
    check_class_names(out, path + ": metadata field 'class_names'");
    return out;
}

}  // namespace

int run_export(int argc, char** argv) {
    std::vector<std::string> paths;
    ArgParser args("patchgrad export", "Writes a checkpoint's model weights alone (no optimizer state) under timm's "
                                       "names and layouts,\nwith the config and class names as metadata, for PyTorch "
                                       "(docs/interop.md).");
    args.positionals("CKPT OUT", &paths, "the checkpoint, then the .safetensors file to write", 2);
    if (!args.parse(argc, argv)) return 0;
    if (paths.size() != 2) throw UsageError("patchgrad export: give CKPT and OUT.safetensors (see --help)");
    refuse_output_over_input("patchgrad export", paths[1], {paths[0]});

    const Checkpoint ckpt = read_checkpoint(paths[0]);
    const std::unique_ptr<ImageClassifier> model = model_from_checkpoint(ckpt);
    StringPairs metadata = {{"format", "pt"},
                            {"patchgrad.format", kWeightsFormat},
                            {"config", to_json(ckpt.config).dump()},
                            {"class_names", class_names_json(ckpt.class_names).dump()}};
    const Json kwargs = timm_kwargs(ckpt.config);
    if (!kwargs.is_null()) metadata.emplace_back("timm_kwargs", kwargs.dump());
    const NamedTensors tensors = model_tensors(*model);
    save_safetensors(paths[1], tensors, metadata);
    std::printf("wrote %s: %zu tensors of the %s (%s), timm names%s\n", paths[1].c_str(), tensors.size(),
                ckpt.config.model == "swin" ? "Swin" : "ViT", ckpt.config.dataset.c_str(),
                kwargs.is_null() ? " (learned_2d position embedding: no timm counterpart)" : "");
    return 0;
}

int run_import(int argc, char** argv) {
    for (int i = 2; i < argc; ++i)
        if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
            print_import_help();
            return 0;
        }
    const ImportArgs a = parse_import_args(argc, argv);
    refuse_output_over_input("patchgrad import", a.out, {a.weights, a.config_path});
    const SafetensorsFile file = load_safetensors(a.weights);
    const TrainConfig config = import_config(a, file);

    // The model, the optimizer and the run's random streams exactly as `train` would start them.
    Rng seeder(static_cast<uint64_t>(config.seed));
    Rng init_rng(seeder.next_u64());
    TrainingState state;
    state.data_rng = Rng(seeder.next_u64()).state();
    state.model_rng = Rng(seeder.next_u64()).state();
    std::unique_ptr<ImageClassifier> model = build_model(config, init_rng);
    load_model_state(*model, fitted_tensors(file, *model, a.weights), a.weights);
    const std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    TrainConfig saved = config;
    saved.out.clear();
    save_checkpoint(a.out, saved, state, import_class_names(file, config, a.weights), *model, optimizer.get());
    std::printf("wrote %s: a %s checkpoint at epoch 0 (%s); use it with eval, predict, or train --resume %s\n",
                a.out.c_str(), config.model.c_str(), config.dataset.c_str(), a.out.c_str());
    return 0;
}

}  // namespace patchgrad::cli
