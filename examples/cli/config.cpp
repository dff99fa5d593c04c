#include "examples/cli/config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <thread>

#include "core/io/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/checkpoint.h"
#include "examples/cli/time_budget.h"
#include "nn/embedding.h"

namespace patchgrad::cli {

namespace {

constexpr int kConfigVersion = 1;
constexpr const char* kCommand = "patchgrad train";

// Every field once, with its JSON key (the flag's name with '_' for '-'): to_json, from_json and the
// resume check all walk this one list, so adding a field is one line here and one in the struct.
template <class Config, class Visit>
void for_each_field(Config& c, Visit&& visit) {
    visit("model", c.model);
    visit("dataset", c.dataset);
    visit("data", c.data);
    visit("epochs", c.epochs);
    visit("steps", c.steps);
    visit("time", c.time);
    visit("val", c.val);
    visit("batch_size", c.batch_size);
    visit("optimizer", c.optimizer);
    visit("lr", c.lr);
    visit("min_lr", c.min_lr);
    visit("warmup_epochs", c.warmup_epochs);
    visit("weight_decay", c.weight_decay);
    visit("momentum", c.momentum);
    visit("label_smoothing", c.label_smoothing);
    visit("augment", c.augment);
    visit("rand_augment", c.rand_augment);
    visit("rand_augment_magnitude", c.rand_augment_magnitude);
    visit("random_erasing", c.random_erasing);
    visit("mixup", c.mixup);
    visit("cutmix", c.cutmix);
    visit("clip_grad", c.clip_grad);
    visit("ema", c.ema);
    visit("skip_nonfinite", c.skip_nonfinite);
    visit("eval_flip", c.eval_flip);
    visit("patch", c.patch);
    visit("dim", c.dim);
    visit("depth", c.depth);
    visit("heads", c.heads);
    visit("mlp_dim", c.mlp_dim);
    visit("pos_embed", c.pos_embed);
    visit("pool", c.pool);
    visit("patch_tokens", c.patch_tokens);
    visit("stem", c.stem);
    visit("dropout", c.dropout);
    visit("drop_path", c.drop_path);
    visit("embed_dim", c.embed_dim);
    visit("depths", c.depths);
    visit("swin_heads", c.swin_heads);
    visit("window", c.window);
    visit("mlp_ratio", c.mlp_ratio);
    visit("image_size", c.image_size);
    visit("channels", c.channels);
    visit("num_classes", c.num_classes);
    visit("threads", c.threads);
    visit("seed", c.seed);
    visit("limit", c.limit);
    visit("test_limit", c.test_limit);
    visit("eval_batch_size", c.eval_batch_size);
    visit("out", c.out);
}

Json json_value(const std::string& v) { return Json(v); }
Json json_value(int64_t v) { return Json(v); }
Json json_value(double v) { return Json(v); }
Json json_value(bool v) { return Json(v); }
Json json_value(const std::vector<int64_t>& v) {
    Json::Array items;
    for (int64_t x : v) items.emplace_back(x);
    return Json(items);
}

void read_value(const Json& j, std::string& v) { v = j.as_string(); }
void read_value(const Json& j, int64_t& v) { v = j.as_int(); }
void read_value(const Json& j, double& v) { v = j.as_number(); }
void read_value(const Json& j, bool& v) { v = j.as_bool(); }
void read_value(const Json& j, std::vector<int64_t>& v) {
    v.clear();
    for (const Json& x : j.as_array()) v.push_back(x.as_int());
}

// Keys added after version 1's first files: a config.json or checkpoint written before them lacks them,
// and their defaults (the struct's) reproduce what that run did.
bool is_later_key(const std::string& key) {
    for (const char* later : {"steps", "time", "val", "ema", "drop_path", "rand_augment",
                              "rand_augment_magnitude", "random_erasing", "mixup", "cutmix", "eval_flip", "patch_tokens",
                              "stem"})
        if (key == later) return true;
    return false;
}

// Every numeric field's range: the flags' (parse_train_config declares each flag with these bounds) and
// validate()'s, so a config.json or a checkpoint's config can hold nothing a flag could not set. A list
// holds each element in the range (--depths 2,2,6). mlp_ratio is bounded for Swin only: a ViT's is
// derived from --mlp-dim and --dim.
struct Range {
    const char* key;
    double min, max;
};
constexpr Range kRanges[] = {
    {"epochs", 1, kMaxEpochs},     {"batch_size", 1, 65536},        {"lr", 0, 100},
    {"min_lr", 0, 100},            {"warmup_epochs", 0, 100000},    {"weight_decay", 0, 100},
    {"momentum", 0, 0.999999},     {"label_smoothing", 0, 0.999999}, {"clip_grad", 0, 1e9},
    {"patch", 1, 1024},            {"dim", 1, 65536},               {"depth", 1, kMaxBlocks},
    {"heads", 1, 4096},            {"mlp_dim", 1, 1 << 20},         {"mlp_ratio", 0.01, 64},
    {"dropout", 0, 0.99},          {"embed_dim", 1, 65536},         {"depths", 1, kMaxBlocks},
    {"swin_heads", 1, 4096},       {"window", 1, 1024},             {"threads", 1, 1024},
    {"seed", 0, 0x1p53},           {"limit", 0, 0x1p40},            {"test_limit", 0, 0x1p40},
    {"eval_batch_size", 1, 65536}, {"steps", 0, 0x1p40},          {"time", 0, 1000.0 * 3600},
    {"val", 0, 0x1p40},            {"ema", 0, 0.99999},             {"drop_path", 0, 0.99},
    {"rand_augment", 0, 16},       {"rand_augment_magnitude", 0, 30}, {"random_erasing", 0, 1},
    {"mixup", 0, 100},             {"cutmix", 0, 100}};

const Range& range(const std::string& key) {
    for (const Range& r : kRanges)
        if (key == r.key) return r;
    throw std::logic_error("config: no range for " + key);
}
int64_t int_min(const char* key) { return static_cast<int64_t>(range(key).min); }
int64_t int_max(const char* key) { return static_cast<int64_t>(range(key).max); }

std::string flag_of(std::string key) {
    for (char& ch : key) ch = ch == '_' ? '-' : ch;
    return "--" + key;
}

[[noreturn]] void usage(const std::string& message) { throw UsageError(std::string(kCommand) + ": " + message); }

void require(bool ok, const std::string& message) {
    if (!ok) usage(message);
}

std::string number(double value) { return format_message(value); }

bool one_of(const std::string& value, const std::vector<std::string>& choices) {
    for (const std::string& choice : choices)
        if (value == choice) return true;
    return false;
}

}  // namespace

// ---- defaults ----------------------------------------------------------------------------------------

TrainConfig default_config(const std::string& model, const std::string& dataset) {
    require(one_of(model, {"vit", "swin"}), "--model expects vit or swin, got '" + model + "'");
    require(one_of(dataset, {"cifar10", "mnist", "fashion-mnist"}),
            "--dataset expects cifar10, mnist or fashion-mnist, got '" + dataset + "'");
    TrainConfig c;  // the struct's initialisers: the reference tiny ViT on CIFAR-10
    c.model = model;
    c.dataset = dataset;
    c.threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
    const bool grey = dataset != "cifar10";
    if (grey) {  // 60,000 small images: more, smaller steps fit the 5-minute budget (docs/results.md)
        c.image_size = 28;
        c.channels = 1;
        c.epochs = 9;
        c.warmup_epochs = 1;
        c.batch_size = 64;
        c.lr = 1.5e-3;
    }
    if (model == "vit" && grey) {  // a 7 x 7 grid of 4 x 4 patches, a smaller and faster ViT
        c.lr = 2e-3;               // chosen on MNIST's validation split (docs/results.md)
        c.dim = 64;
        c.depth = 4;
        c.heads = 4;
        c.mlp_dim = 128;
    }
    if (model == "vit" && dataset == "mnist") {  // chosen on MNIST's validation split (docs/results.md):
        c.patch = 7;                             // a 4 x 4 grid of 7 x 7 patches, 3.3 times as fast,
        c.patch_tokens = "shifted";              // each patch also seeing 3 pixels past its borders,
        c.epochs = 22;                           // as many epochs as fit 5 minutes on 2 cores
    }
    if (model == "vit" && dataset == "cifar10") {  // chosen on CIFAR-10's validation split (docs/results.md):
        c.stem = "conv";                           // two 3 x 3 stride-2 convolutions instead of 4 x 4 patches
    }
    if (model == "swin") {
        c.patch = 2;  // the reference tiny Swin: a 16 x 16 grid, windows of 4: 16 -> 8 -> 4 over three stages
        if (grey) {   // MNIST: a 14 x 14 grid, windows of 7: 14 -> 7 over two stages
            c.window = 7;
            c.embed_dim = 32;
            c.depths = {2, 2};
            c.swin_heads = {2, 4};
        }
    }
    if (model == "swin" && dataset == "cifar10") {  // chosen on CIFAR-10's validation split (docs/results.md):
        c.patch = 4;                                // the ViT's conv stem, 3 -> 64 -> 128 channels, to an
        c.stem = "conv";                            // 8 x 8 grid; then 4 blocks in windows of 4 (shifted
        c.embed_dim = 128;                          // in every other block), patch merging to 4 x 4 and
        c.depths = {4, 2};                          // 256 channels, and 2 blocks in the one window left
        c.swin_heads = {4, 8};
    }
    c.mlp_ratio = model == "vit" ? static_cast<double>(c.mlp_dim) / static_cast<double>(c.dim) : c.mlp_ratio;
    return c;
}

// ---- validation --------------------------------------------------------------------------------------

void validate(const TrainConfig& c) {
    require(one_of(c.model, {"vit", "swin"}), "--model expects vit or swin, got '" + c.model + "'");
    require(one_of(c.dataset, {"cifar10", "mnist", "fashion-mnist"}),
            "--dataset expects cifar10, mnist or fashion-mnist, got '" + c.dataset + "'");
    require(one_of(c.optimizer, {"sgd", "adam", "adamw"}),
            "--optimizer expects sgd, adam or adamw, got '" + c.optimizer + "'");
    require(one_of(c.pos_embed, {"learned_1d", "learned_2d", "sincos_1d", "sincos_2d"}),
            "--pos-embed expects learned_1d, learned_2d, sincos_1d or sincos_2d, got '" + c.pos_embed + "'");
    require(one_of(c.pool, {"cls", "mean"}), "--pool expects cls or mean, got '" + c.pool + "'");
    require(one_of(c.patch_tokens, {"plain", "shifted"}),
            "--patch-tokens expects plain or shifted, got '" + c.patch_tokens + "'");
    require(one_of(c.stem, {"patch", "conv"}), "--stem expects patch or conv, got '" + c.stem + "'");
    require(!c.data.empty(), "--data must name a folder");

    require(c.epochs >= 1, "--epochs must be 1 or more, got " + std::to_string(c.epochs));
    require(c.batch_size >= 1, "--batch-size must be 1 or more, got " + std::to_string(c.batch_size));
    require(c.eval_batch_size >= 1, "--eval-batch-size must be 1 or more, got " + std::to_string(c.eval_batch_size));
    require(std::isfinite(c.lr) && c.lr > 0, "--lr must be a number > 0, got " + number(c.lr));
    require(std::isfinite(c.min_lr) && c.min_lr >= 0 && c.min_lr <= c.lr,
            "--min-lr must be in [0, --lr] = [0, " + number(c.lr) + "], got " + number(c.min_lr));
    require(std::isfinite(c.warmup_epochs) && c.warmup_epochs >= 0 && c.warmup_epochs <= c.epochs,
            "--warmup-epochs must be in [0, --epochs] = [0, " + std::to_string(c.epochs) + "], got " +
                number(c.warmup_epochs));
    require(std::isfinite(c.weight_decay) && c.weight_decay >= 0,
            "--weight-decay must be >= 0, got " + number(c.weight_decay));
    require(c.momentum >= 0 && c.momentum < 1, "--momentum must be in [0, 1), got " + number(c.momentum));
    require(c.label_smoothing >= 0 && c.label_smoothing < 1,
            "--label-smoothing must be in [0, 1), got " + number(c.label_smoothing));
    require(std::isfinite(c.clip_grad) && c.clip_grad >= 0,
            "--clip-grad must be >= 0 (0: no clipping), got " + number(c.clip_grad));
    require(c.dropout >= 0 && c.dropout < 1, "--dropout must be in [0, 1), got " + number(c.dropout));
    require(c.drop_path >= 0 && c.drop_path < 1, "--drop-path must be in [0, 1), got " + number(c.drop_path));
    require(c.ema >= 0 && c.ema < 1, "--ema must be in [0, 1) (0: off), got " + number(c.ema));
    require(!c.eval_flip || c.dataset != "mnist",
            "--eval-flip averages each image with its mirror image, but MNIST's training never flips (a mirrored 2 "
            "is not a 2): leave it off for --dataset mnist");
    // The upper bounds are the flags' (parse_train_config): they matter for a config read from a file (a
    // checkpoint, config.json), where a corrupt number must not ask for 2^40 threads or a model no memory holds.
    require(c.threads >= 1 && c.threads <= 1024, "--threads must be in [1, 1024], got " + std::to_string(c.threads));
    require(c.seed >= 0, "--seed must be >= 0, got " + std::to_string(c.seed));
    require(c.limit >= 0, "--limit must be >= 0 (0: all), got " + std::to_string(c.limit));
    require(c.test_limit >= 0, "--test-limit must be >= 0 (0: all), got " + std::to_string(c.test_limit));

    const bool grey = c.dataset != "cifar10";
    const int64_t side = grey ? 28 : 32, channels = grey ? 1 : 3;
    require(c.image_size == side && c.channels == channels && c.num_classes == 10,
            "config: image_size " + std::to_string(c.image_size) + ", channels " + std::to_string(c.channels) +
                ", num_classes " + std::to_string(c.num_classes) + " do not match " + c.dataset + " (" +
                std::to_string(side) + ", " + std::to_string(channels) + ", 10)");

    const std::string images = std::to_string(side) + "x" + std::to_string(side) + " images of " + c.dataset;
    require(c.patch >= 1 && c.patch <= side, "--patch must be in [1, " + std::to_string(side) + "] for the " +
                                                  images + ", got " + std::to_string(c.patch));
    require(side % c.patch == 0,
            "--patch " + std::to_string(c.patch) + " does not divide the " + images + " (" + std::to_string(side) +
                " % " + std::to_string(c.patch) + " = " + std::to_string(side % c.patch) + ")");
    if (c.model == "vit") {
        require(c.dim >= 1 && c.depth >= 1 && c.heads >= 1 && c.mlp_dim >= 1,
                "--dim, --depth, --heads and the MLP width must be 1 or more, got " + std::to_string(c.dim) + ", " +
                    std::to_string(c.depth) + ", " + std::to_string(c.heads) + ", " + std::to_string(c.mlp_dim));
        require(c.dim <= 65536 && c.depth <= kMaxBlocks && c.heads <= 4096 && c.mlp_dim <= (1 << 20),
                "--dim, --depth, --heads and the MLP width must be at most 65536, " + std::to_string(kMaxBlocks) +
                    ", 4096 and 1048576, got " + std::to_string(c.dim) + ", " + std::to_string(c.depth) + ", " +
                    std::to_string(c.heads) + ", " + std::to_string(c.mlp_dim));
        require(c.dim % c.heads == 0, "--heads " + std::to_string(c.heads) + " does not divide --dim " +
                                          std::to_string(c.dim) + " (each head gets dim / heads channels)");
        require(c.pos_embed != "sincos_2d" || c.dim % 4 == 0,
                "--pos-embed sincos_2d needs --dim divisible by 4, got " + std::to_string(c.dim));
        require(c.pos_embed != "sincos_1d" || c.dim % 2 == 0,
                "--pos-embed sincos_1d needs an even --dim, got " + std::to_string(c.dim));
        require(c.patch_tokens != "shifted" || c.patch >= 2,
                "--patch-tokens shifted moves copies of the image by half a patch, which needs --patch 2 or more, got " +
                    std::to_string(c.patch));
        require(c.stem != "conv" || conv_stem_fits(c.patch, c.dim),
                "--stem conv halves the image log2(patch) times with 3 x 3 stride-2 convolutions, doubling the channels "
                "up to --dim: it needs --patch 2, 4, 8, ... (a power of two) and --dim divisible by patch/2, got --patch " +
                    std::to_string(c.patch) + " and --dim " + std::to_string(c.dim) +
                    " (--stem patch takes any patch size that divides the image)");
    } else {
        require(c.embed_dim >= 1 && c.window >= 1 && c.mlp_ratio > 0,
                "--embed-dim and --window must be 1 or more and --mlp-ratio > 0, got " + std::to_string(c.embed_dim) +
                    ", " + std::to_string(c.window) + ", " + number(c.mlp_ratio));
        require(c.embed_dim <= 65536 && c.window <= 1024 && c.mlp_ratio <= 64,
                "--embed-dim, --window and --mlp-ratio must be at most 65536, 1024 and 64, got " +
                    std::to_string(c.embed_dim) + ", " + std::to_string(c.window) + ", " + number(c.mlp_ratio));
        // The MLP's width is mlp_ratio x C rounded down (nn/swin.h); at the first stage's C it must be >= 1.
        require(static_cast<int64_t>(c.mlp_ratio * static_cast<double>(c.embed_dim)) >= 1,
                "--mlp-ratio " + number(c.mlp_ratio) + " x --embed-dim " + std::to_string(c.embed_dim) +
                    " gives the first stage's MLP no channels (it is rounded down); the product must be 1 or more");
        require(c.stem != "conv" || conv_stem_fits(c.patch, c.embed_dim),
                "--stem conv halves the image log2(patch) times with 3 x 3 stride-2 convolutions, doubling the channels "
                "up to --embed-dim: it needs --patch 2, 4, 8, ... (a power of two) and --embed-dim divisible by "
                "patch/2, got --patch " + std::to_string(c.patch) + " and --embed-dim " + std::to_string(c.embed_dim) +
                    " (--stem patch takes any patch size that divides the image)");
        require(!c.depths.empty() && c.depths.size() == c.swin_heads.size(),
                "--depths and --swin-heads need one entry per stage, got " + std::to_string(c.depths.size()) +
                    " and " + std::to_string(c.swin_heads.size()));
        int64_t grid = side / c.patch, channels_here = c.embed_dim;
        for (size_t i = 0; i < c.depths.size(); ++i) {
            const std::string stage = "stage " + std::to_string(i) + " (" + std::to_string(grid) + "x" +
                                      std::to_string(grid) + " tokens, " + std::to_string(channels_here) +
                                      " channels)";
            require(c.depths[i] >= 1 && c.swin_heads[i] >= 1 && c.depths[i] <= kMaxBlocks && c.swin_heads[i] <= 4096,
                    "--depths and --swin-heads must be in [1, " + std::to_string(kMaxBlocks) + "] and [1, 4096], got " +
                        std::to_string(c.depths[i]) + " and " + std::to_string(c.swin_heads[i]) + " for " + stage);
            require(channels_here % c.swin_heads[i] == 0, "--swin-heads " + std::to_string(c.swin_heads[i]) +
                                                              " does not divide the channels of " + stage);
            require(grid <= c.window || grid % c.window == 0,
                    "--window " + std::to_string(c.window) + " does not divide the grid of " + stage);
            if (i + 1 < c.depths.size()) {
                require(grid % 2 == 0, "patch merging after " + stage + " needs an even grid: use fewer stages "
                                       "(--depths) or another --patch");
                grid /= 2;
                channels_here *= 2;
            }
        }
        int64_t blocks = 0;  // each stage's count is at most kMaxBlocks, and there are at most 6 stages
        for (const int64_t depth : c.depths) blocks += depth;
        require(blocks <= kMaxBlocks, "--depths makes " + std::to_string(blocks) + " blocks in all, more than the " +
                                          std::to_string(kMaxBlocks) + " a model may have");
    }
    // Every range of kRanges, the flags' own (most were checked above with more context: these are the rest).
    const Json fields = to_json(c);
    for (const Range& r : kRanges) {
        if (std::string(r.key) == "mlp_ratio" && c.model != "swin") continue;
        const Json& value = fields.at(r.key);
        for (const Json& x : value.is_array() ? value.as_array() : Json::Array{value})
            require(x.as_number() >= r.min && x.as_number() <= r.max,
                    flag_of(r.key) + " must be in [" + Json(r.min).dump() + ", " + Json(r.max).dump() + "], got " +
                        x.dump());
    }
    // The models' own checks, as a backstop: anything they refuse is a configuration mistake too.
    try {
        if (c.model == "vit")
            vit_config(c).validate();
        else
            swin_config(c).validate();
    } catch (const std::invalid_argument& error) {
        usage(error.what());
    }
}

// ---- JSON ---------------------------------------------------------------------------------------------

Json to_json(const TrainConfig& config) {
    Json json = Json::object();
    json.set("version", kConfigVersion);
    for_each_field(config, [&](const char* key, const auto& value) { json.set(key, json_value(value)); });
    return json;
}

TrainConfig from_json(const Json& json) {
    check_io(json.is_object(), "config: expected a JSON object, got ", json.type_name());
    const Json* version = json.find("version");
    check_io(version && version->is_number() && version->as_number() == kConfigVersion,
             "config: \"version\" must be ", kConfigVersion, ", got ",
             [&] { return version ? version->dump() : std::string("nothing"); });
    TrainConfig config;
    size_t known = 1;  // "version"
    for_each_field(config, [&](const char* key, auto& value) {
        const Json* entry = json.find(key);
        if (entry == nullptr && is_later_key(key)) return;  // a file from before the key: its default applies
        check_io(entry != nullptr, "config: missing key \"", key, "\"");
        try {
            read_value(*entry, value);
        } catch (const std::exception& error) {
            throw std::runtime_error(format_message("config: key \"", key, "\": ", error.what()));
        }
        ++known;
    });
    if (json.size() != known)
        for (const auto& entry : json.as_object()) {
            const std::string& key = entry.first;  // not a structured binding: clang before 16 cannot capture one
            bool found = key == "version";
            for_each_field(config, [&](const char* k, const auto&) { found = found || key == k; });
            check_io(found, "config: unknown key \"", key, "\"");
        }
    return config;
}

TrainConfig read_config_file(const std::string& path) {
    const Json json = parse_json(read_file(path, kMaxConfigFileBytes), path);  // their errors name the path
    try {
        return from_json(json);
    } catch (const std::runtime_error& error) {
        throw std::runtime_error(path + ": " + error.what());
    }
}

// ---- resume ---------------------------------------------------------------------------------------------

const std::vector<std::string> kResumeFixedFields = {
    "model", "dataset", "image_size", "channels", "num_classes", "patch", "dim", "depth", "heads", "mlp_dim",
    "pos_embed", "pool", "patch_tokens", "stem", "embed_dim", "depths", "swin_heads", "window", "mlp_ratio", "optimizer", "batch_size",
    "limit", "seed", "val", "ema"};

std::string resume_mismatch(const TrainConfig& checkpoint, const TrainConfig& requested) {
    const Json a = to_json(checkpoint), b = to_json(requested);
    for (const std::string& key : kResumeFixedFields)
        if (!(a.at(key) == b.at(key)))
            return key + ": the checkpoint has " + a.at(key).dump() + ", this run asks for " + b.at(key).dump();
    return "";
}

// ---- flags ----------------------------------------------------------------------------------------------

bool parse_train_config(int argc, char** argv, TrainConfig& config, std::string& resume, bool* force) {
    TrainConfig f = default_config("vit", "cifar10");  // the flags' targets; the help shows these defaults
    bool no_augment = false, force_flag = false, reference = false;
    std::string time_text;  // --time's duration, parsed below
    resume.clear();
    ArgParser args(kCommand,
                   "Trains a Vision Transformer or a Swin Transformer on CIFAR-10, MNIST or Fashion-MNIST, with "
                   "AdamW,\nwarmup + cosine, label smoothing and augmentation. Writes config.json, metrics.csv, "
                   "last.safetensors\nand best.safetensors into --out. Ctrl-C saves a resumable checkpoint. "
                   "Shape defaults depend on\n--model and --dataset (docs/training.md).");
    args.option("--model", &f.model, "the architecture", {"vit", "swin"});
    args.option("--dataset", &f.dataset, "the dataset", {"cifar10", "mnist", "fashion-mnist"});
    args.option("--data", &f.data, "the folder `make data` fills");
    args.option("--epochs", &f.epochs, "passes over the training set (MNIST ViT: 22; other MNIST, Fashion-MNIST: 9)",
                int_min("epochs"), int_max("epochs"));
    args.option("--steps", &f.steps, "the run's length in optimizer steps instead (0: epochs x steps per epoch)",
                int_min("steps"), int_max("steps"));
    args.option("--time", &time_text, "a time budget that sizes the run (60m, 1.5h, 90s): it measures its speed, "
                                      "then fixes --steps");
    args.option("--val", &f.val, "hold out N training images (seeded) to choose the best checkpoint by (0: none)",
                int_min("val"), int_max("val"));
    args.option("--batch-size", &f.batch_size, "images per step (MNIST, Fashion-MNIST: 64)",
                int_min("batch_size"), int_max("batch_size"));
    args.option("--optimizer", &f.optimizer, "the optimizer", {"sgd", "adam", "adamw"});
    args.option("--lr", &f.lr, "peak learning rate (MNIST, Fashion-MNIST: ViT 0.002, Swin 0.0015)", range("lr").min, range("lr").max);
    args.option("--min-lr", &f.min_lr, "the cosine's final learning rate", range("min_lr").min, range("min_lr").max);
    args.option("--warmup-epochs", &f.warmup_epochs, "linear warmup, in epochs (MNIST: 1; at most epochs/5 unless given)",
                range("warmup_epochs").min, range("warmup_epochs").max);
    args.option("--weight-decay", &f.weight_decay, "weight decay (not on biases, norms, embeddings)",
                range("weight_decay").min, range("weight_decay").max);
    args.option("--momentum", &f.momentum, "SGD's momentum", range("momentum").min, range("momentum").max);
    args.option("--label-smoothing", &f.label_smoothing, "label smoothing",
                range("label_smoothing").min, range("label_smoothing").max);
    args.flag("--no-augment", &no_augment, "no random crop or flip");
    args.option("--rand-augment", &f.rand_augment, "RandAugment: ops per image (0: off; e.g. 2)",
                int_min("rand_augment"), int_max("rand_augment"));
    args.option("--rand-augment-magnitude", &f.rand_augment_magnitude, "RandAugment's strength (0..30)",
                int_min("rand_augment_magnitude"), int_max("rand_augment_magnitude"));
    args.option("--random-erasing", &f.random_erasing, "the probability of erasing a rectangle of an image (0: off)",
                range("random_erasing").min, range("random_erasing").max);
    args.option("--mixup", &f.mixup, "mixup's alpha: mix image pairs, lambda ~ Beta(alpha, alpha) (0: off; e.g. 0.8)",
                range("mixup").min, range("mixup").max);
    args.option("--cutmix", &f.cutmix, "CutMix's alpha: paste a box of the partner image (0: off; e.g. 1)",
                range("cutmix").min, range("cutmix").max);
    args.option("--clip-grad", &f.clip_grad, "clip the global gradient norm to this (0: off)",
                range("clip_grad").min, range("clip_grad").max);
    args.option("--ema", &f.ema, "evaluate and save an average of the weights with this decay (e.g. 0.999; 0: "
                                 "off)", range("ema").min, range("ema").max);
    args.flag("--skip-nonfinite", &f.skip_nonfinite, "skip steps whose loss or gradient is NaN/Inf, don't stop");
    args.flag("--eval-flip", &f.eval_flip, "evaluate each image and its mirror image, averaging the logits "
                                           "(not MNIST)");
    args.option("--patch", &f.patch, "patch side (MNIST ViT: 7; MNIST Swin: 2)", int_min("patch"), int_max("patch"));
    args.option("--dim", &f.dim, "ViT width", int_min("dim"), int_max("dim"));
    args.option("--depth", &f.depth, "ViT encoder blocks", int_min("depth"), int_max("depth"));
    args.option("--heads", &f.heads, "ViT attention heads (divides --dim)", int_min("heads"), int_max("heads"));
    args.option("--mlp-dim", &f.mlp_dim, "ViT MLP hidden width", int_min("mlp_dim"), int_max("mlp_dim"));
    args.option("--mlp-ratio", &f.mlp_ratio, "MLP width / model width (ViT: instead of --mlp-dim)",
                range("mlp_ratio").min, range("mlp_ratio").max);
    args.option("--pos-embed", &f.pos_embed, "ViT position embedding",
                {"learned_1d", "learned_2d", "sincos_1d", "sincos_2d"});
    args.option("--pool", &f.pool, "ViT pooling: the CLS token or the mean of the tokens", {"cls", "mean"});
    args.option("--patch-tokens", &f.patch_tokens, "ViT: each patch alone, or with 4 copies of the image shifted by "
                                                   "half a patch (MNIST: shifted)", {"plain", "shifted"});
    args.option("--stem", &f.stem, "how images become tokens: one linear map a P x P patch, or log2(P) 3 x 3 "
                                   "stride-2 convolutions", {"patch", "conv"});
    args.option("--dropout", &f.dropout, "dropout rate", range("dropout").min, range("dropout").max);
    args.option("--drop-path", &f.drop_path, "stochastic depth: a residual branch's drop rate at the last block, "
                                             "rising from 0 at the first", range("drop_path").min, range("drop_path").max);
    args.option("--embed-dim", &f.embed_dim, "Swin: first stage's channels",
                int_min("embed_dim"), int_max("embed_dim"));
    args.option("--depths", &f.depths, "Swin: blocks per stage", int_min("depths"), int_max("depths"));
    args.option("--swin-heads", &f.swin_heads, "Swin: heads per stage", int_min("swin_heads"), int_max("swin_heads"));
    args.option("--window", &f.window, "Swin: window side (MNIST: 7)", int_min("window"), int_max("window"));
    args.option("--threads", &f.threads, "OpenMP threads (results do not depend on it)",
                int_min("threads"), int_max("threads"));
    args.option("--seed", &f.seed, "the seed of every random draw", int_min("seed"), int_max("seed"));
    args.option("--limit", &f.limit, "train on the first N images only (0: all)", int_min("limit"), int_max("limit"));
    args.option("--test-limit", &f.test_limit, "evaluate on the first N test images only (0: all)",
                int_min("test_limit"), int_max("test_limit"));
    args.option("--eval-batch-size", &f.eval_batch_size, "images per evaluation pass",
                int_min("eval_batch_size"), int_max("eval_batch_size"));
    args.option("--out", &f.out, "the run's folder (default runs/DATASET-MODEL-TIME; resume: the checkpoint's)");
    args.option("--resume", &resume, "continue the run saved in this checkpoint, in its folder");
    args.flag("--force", &force_flag, "start afresh in an --out that holds a run of another config, replacing it");
    args.flag("--reference", &reference, "run every layer's textbook twin instead of its fused kernel (slower; "
                                         "the same function: docs/models.md)");
    if (!args.parse(argc, argv)) return false;
    if (force) *force = force_flag;
    require(!(force_flag && !resume.empty()), "--force replaces another run, --resume continues one: give one of them");

    // The base: a checkpoint's config, or the defaults of the chosen model and dataset.
    TrainConfig saved;
    Json merged;
    if (!resume.empty()) {
        saved = read_checkpoint_config(resume);
        merged = to_json(saved);
    } else {
        merged = to_json(default_config(f.model, f.dataset));
    }
    // Each flag given overrides its field: the flag "--batch-size" is the key "batch_size".
    const Json given_values = to_json(f);
    for (const auto& [key, value] : given_values.as_object()) {
        std::string flag = "--" + key;
        for (char& ch : flag) ch = ch == '_' ? '-' : ch;
        if (args.given(flag)) merged.set(key, value);
    }
    if (no_augment) merged.set("augment", false);
    if (args.given("--time")) {
        require(resume.empty(), "--time sizes a new run; a resumed run keeps the steps its budget fixed (--steps "
                                "or --epochs change them)");
        require(!args.given("--epochs") && !args.given("--steps"),
                "--time sizes the run, --epochs and --steps fix its length: give one of them");
        merged.set("time", parse_duration(time_text, "--time"));
        merged.set("steps", int64_t{0});  // fixed by the time budget's plan when the run starts
    }
    require(!(args.given("--epochs") && args.given("--steps")),
            "--epochs and --steps both set the run's length: give one of them");
    if (args.given("--epochs")) merged.set("steps", int64_t{0});  // on resume: the epochs given rule
    // On resume, a length given by hand replaces the one a budget fixed: the budget no longer applies.
    if (args.given("--epochs") || args.given("--steps")) merged.set("time", 0.0);
    TrainConfig c = from_json(merged);

    // Conflicts, named.
    const std::vector<std::string> vit_only = {"--dim", "--depth", "--heads", "--mlp-dim", "--pos-embed", "--pool",
                                               "--patch-tokens"};
    const std::vector<std::string> swin_only = {"--embed-dim", "--depths", "--swin-heads", "--window"};
    for (const std::string& flag : c.model == "swin" ? vit_only : swin_only)
        require(!args.given(flag), flag + " shapes a " + (c.model == "swin" ? "ViT" : "Swin") +
                                       " but the model is " + c.model + " (" +
                                       (resume.empty() ? "--model" : "the checkpoint's model") + ")");
    require(!(args.given("--mlp-ratio") && args.given("--mlp-dim")),
            "--mlp-ratio and --mlp-dim both set the MLP width: give one of them");
    require(!args.given("--momentum") || c.optimizer == "sgd",
            "--momentum is SGD's, but the optimizer is " + c.optimizer + " (--optimizer sgd to use it)");
    // ViT: the width is stored as mlp_dim; --mlp-ratio sets it from the (possibly new) dim.
    if (c.model == "vit") {
        if (args.given("--mlp-ratio")) {
            const double width = c.mlp_ratio * static_cast<double>(c.dim);
            require(std::abs(width - std::round(width)) < 1e-9,
                    "--mlp-ratio " + number(c.mlp_ratio) + " times --dim " + std::to_string(c.dim) + " is " +
                        number(width) + ", not a whole number of units");
            c.mlp_dim = static_cast<int64_t>(std::round(width));
        }
        c.mlp_ratio = static_cast<double>(c.mlp_dim) / static_cast<double>(c.dim > 0 ? c.dim : 1);
    }
    // The warmup, when not given, is at most a fifth of the run: `--epochs 1` still gets its cosine.
    if (resume.empty() && !args.given("--warmup-epochs"))
        c.warmup_epochs = std::min(c.warmup_epochs, static_cast<double>(c.epochs) / 5);
    if (!resume.empty()) {
        const std::string mismatch = resume_mismatch(saved, c);
        require(mismatch.empty(), "--resume " + resume + ": cannot change " + mismatch +
                                      " (only the schedule and the run's settings may change on resume)");
        // A run folder belongs to one run: the resumed run goes on writing into its own.
        std::string run_dir = std::filesystem::path(resume).parent_path().string();
        if (run_dir.empty()) run_dir = ".";
        require(!args.given("--out") || same_file(c.out, run_dir),
                "--out " + c.out + " is not the folder of the resumed run, " + run_dir +
                    ": a resumed run continues in its own folder (to branch a run, copy its folder and resume there)");
        if (!args.given("--out")) c.out = run_dir;
    }
    c.kernels = reference ? Kernels::reference : Kernels::fast;
    validate(c);
    config = c;
    return true;
}

}  // namespace patchgrad::cli
