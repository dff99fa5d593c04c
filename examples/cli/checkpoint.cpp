#include "examples/cli/checkpoint.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "examples/cli/args.h"

namespace patchgrad::cli {

namespace {

constexpr const char* kOptimizerPrefix = "optimizer.";
constexpr const char* kEmaPrefix = "ema.";

// 17 significant digits: the double reads back bit for bit.
std::string exact(double value) {
    char text[40];
    std::snprintf(text, sizeof text, "%.17g", value);
    return text;
}

std::string rng_words(const Rng::State& state) {
    Json::Array words;
    for (uint64_t word : state) words.emplace_back(std::to_string(word));
    return Json(words).dump();
}

// The metadata of one checkpoint file, read field by field; every error names the file and the field.
struct MetadataReader {
    const SafetensorsFile& file;
    const std::string& path;

    const std::string& text(const char* key) const {
        const std::string* value = file.find_metadata(key);
        check_io(value != nullptr, path, ": metadata field '", key,
                 "' is missing (is this a patchgrad training checkpoint?)");
        return *value;
    }
    int64_t integer(const char* key, int64_t min) const {
        const std::string& value = text(key);
        char* end = nullptr;
        errno = 0;
        const long long parsed = value.empty() ? 0 : std::strtoll(value.c_str(), &end, 10);
        check_io(!value.empty() && errno == 0 && *end == '\0' && parsed >= min, path, ": metadata field '", key,
                 "' is '", value, "', expected a whole number >= ", min);
        return parsed;
    }
    double real(const char* key) const {
        const std::string& value = text(key);
        char* end = nullptr;
        errno = 0;
        const double parsed = value.empty() ? 0 : std::strtod(value.c_str(), &end);
        check_io(!value.empty() && errno == 0 && *end == '\0' && std::isfinite(parsed), path, ": metadata field '",
                 key, "' is '", value, "', expected a finite number");
        return parsed;
    }
    Json json(const char* key) const {
        try {
            return parse_json(text(key), path + ": metadata field '" + key + "'");
        } catch (const std::invalid_argument& error) {
            throw std::runtime_error(error.what());
        }
    }
    Rng::State rng(const char* key) const {
        const Json words = json(key);
        check_io(words.is_array() && words.size() == 4, path, ": metadata field '", key,
                 "' must be an array of 4 decimal strings, got ", words);
        Rng::State state{};
        for (size_t i = 0; i < 4; ++i) {
            const Json& word = words.at(i);
            const std::string value = word.is_string() ? word.as_string() : "";
            char* end = nullptr;
            errno = 0;
            const unsigned long long parsed = value.empty() ? 0 : std::strtoull(value.c_str(), &end, 10);
            check_io(!value.empty() && value[0] != '-' && errno == 0 && *end == '\0', path, ": metadata field '",
                     key, "' word ", i, " is ", word, ", expected a decimal string of a 64-bit word");
            state[i] = parsed;
        }
        check_io(state != Rng::State{}, path, ": metadata field '", key, "' is all zeros, not a valid Rng state");
        return state;
    }
};

std::string name_list(const std::vector<std::string>& names) {
    std::string text;
    for (size_t i = 0; i < names.size() && i < 6; ++i) text += (i ? ", '" : "'") + names[i] + "'";
    if (names.size() > 6) text += ", ... (" + std::to_string(names.size()) + " in all)";
    return text;
}

// NaN and Inf are never a weight, a buffer or an optimizer state that training saved (a non-finite step
// stops the run or is skipped, train.cpp): refused, naming the tensor and the element.
void check_finite(const NamedTensors& tensors, const std::string& source) {
    for (const auto& [name, t] : tensors) {
        const Scalar* values = t.data();
        for (int64_t i = 0; i < t.numel(); ++i)
            check_io(std::isfinite(values[i]), source, ": tensor '", name, "' ", t.shape(), ": element ", i, " is ",
                     values[i], ", expected a finite number");
    }
}

}  // namespace

void save_checkpoint(const std::string& path, const TrainConfig& config, const TrainingState& state,
                     const std::vector<std::string>& class_names, const ImageClassifier& model,
                     const Optimizer* optimizer, const ExponentialMovingAverage* ema) {
    NamedTensors tensors = model.named_parameters();
    for (const auto& buffer : model.named_buffers()) tensors.push_back(buffer);
    if (optimizer)
        for (const auto& [name, t] : optimizer->state()) tensors.emplace_back(kOptimizerPrefix + name, t);
    if (ema)
        for (const auto& entry : ema->state()) tensors.push_back(entry);  // "ema.<name>"
    Json::Array names;
    for (const std::string& name : class_names) names.emplace_back(name);
    const StringPairs metadata = {
        {"patchgrad.format", kCheckpointFormat},
        {"patchgrad.version", std::to_string(kCheckpointVersion)},
        {"config", to_json(config).dump()},
        {"class_names", Json(names).dump()},
        {"epoch", std::to_string(state.epoch)},
        {"batch", std::to_string(state.batch)},
        {"step", std::to_string(state.step)},
        {"data_rng", rng_words(state.data_rng)},
        {"model_rng", rng_words(state.model_rng)},
        {"best_val_acc", exact(state.best_val_acc)},
        {"best_test_acc", exact(state.best_test_acc)},
        {"best_epoch", std::to_string(state.best_epoch)},
        {"loss_sum", exact(state.loss_sum)},
        {"correct", std::to_string(state.correct)},
        {"seen", std::to_string(state.seen)},
        {"skipped", std::to_string(state.skipped)},
        {"seconds", exact(state.seconds)},
    };
    save_safetensors(path, tensors, metadata);
}

void check_class_names(const std::vector<std::string>& names, const std::string& source) {
    for (auto name = names.begin(); name != names.end(); ++name) {
        const auto quoted = [&] { return Json(*name).dump(); };  // "cat", "\u001b[2J": only on failure
        check_io(!name->empty() && printable(*name) == *name, source, " holds ", quoted,
                 ", expected a name of printable characters");
        check_io(std::find(names.begin(), name, *name) == name, source, " holds ", quoted,
                 " twice, expected distinct names");
    }
}

Checkpoint read_checkpoint(const std::string& path) { return read_checkpoint(load_safetensors(path), path); }

Checkpoint read_checkpoint(const SafetensorsFile& file, const std::string& path) {
    const MetadataReader meta{file, path};
    const std::string& format = meta.text("patchgrad.format");
    check_io(format == kCheckpointFormat, path, ": metadata field 'patchgrad.format' is '", format, "', expected '",
             kCheckpointFormat, "'");
    const int64_t version = meta.integer("patchgrad.version", 0);
    check_io(version == kCheckpointVersion, path, ": checkpoint version ", version, ", this program reads version ",
             kCheckpointVersion);

    Checkpoint ckpt;
    ckpt.path = path;
    try {
        ckpt.config = from_json(meta.json("config"));
        validate(ckpt.config);
    } catch (const std::exception& error) {
        throw std::runtime_error(path + ": metadata field 'config': " + error.what());
    }
    // The config must not describe a model larger than the tensors stored: the file must hold every number
    // load_model_state takes from it, parameters and buffers. Refused before anything is built, as
    // model_from_checkpoint would otherwise allocate gigabytes for a model the file cannot fill: a corrupt
    // "dim": 65536 (found by the corruption sweep, tests/f32/test_corruption_sweep_cli.cpp), or a Swin of
    // 32 x 32 windows, whose relative_position_index buffers (1M numbers a block) outweigh its parameters
    // 250 to 1: a file of 16 MB could ask for 4 GB (tests/fuzz/regressions/checkpoint/). What a model holds
    // beyond its tensors (a Swin block's token orders and shifted-window mask) is at most 264,192 numbers
    // a block (32 x 32 tokens in 16 x 16 windows), and each block needs its own tensors in the file.
    int64_t stored = 0;
    for (const auto& [name, t] : file.tensors) stored += t.numel();
    const bool vit = ckpt.config.model == "vit";
    const int64_t parameters = vit ? vit_config(ckpt.config).parameter_count()
                                   : swin_config(ckpt.config).parameter_count();
    const int64_t buffers = vit ? vit_config(ckpt.config).buffer_count() : swin_config(ckpt.config).buffer_count();
    check_io(parameters + buffers <= stored, path, ": metadata field 'config' describes a model of ", parameters,
             " parameters and ", buffers, " numbers of buffers, but the file holds only ", stored, " numbers");
    const Json names = meta.json("class_names");
    check_io(names.is_array() && static_cast<int64_t>(names.size()) == ckpt.config.num_classes, path,
             ": metadata field 'class_names' must be an array of ", ckpt.config.num_classes, " names, got ",
             names);
    for (const Json& name : names.as_array()) {
        check_io(name.is_string(), path, ": metadata field 'class_names' holds ", name, ", expected strings");
        ckpt.class_names.push_back(name.as_string());
    }
    check_class_names(ckpt.class_names, path + ": metadata field 'class_names'");
    TrainingState& s = ckpt.state;
    s.epoch = meta.integer("epoch", 0);
    s.batch = meta.integer("batch", 0);
    s.step = meta.integer("step", 0);
    s.data_rng = meta.rng("data_rng");
    s.model_rng = meta.rng("model_rng");
    s.best_val_acc = file.find_metadata("best_val_acc") ? meta.real("best_val_acc") : -1;  // older files: none
    s.best_test_acc = meta.real("best_test_acc");
    s.best_epoch = meta.integer("best_epoch", 0);
    s.loss_sum = meta.real("loss_sum");
    s.correct = meta.integer("correct", 0);
    s.seen = meta.integer("seen", 0);
    s.skipped = meta.integer("skipped", 0);
    s.seconds = meta.real("seconds");
    check_io(s.correct <= s.seen, path, ": metadata: correct ", s.correct, " exceeds seen ", s.seen);
    // best_epoch is a finished epoch, or the open one when a time budget ended the run inside it (train.cpp).
    const int64_t latest = s.epoch + (s.batch > 0 ? 1 : 0);
    check_io(s.best_epoch <= latest, path, ": metadata: best_epoch ", s.best_epoch, " is after epoch ", latest);

    check_finite(file.tensors, path);
    bool has_averages = false;
    for (const auto& [name, t] : file.tensors) has_averages = has_averages || name.rfind(kEmaPrefix, 0) == 0;
    check_io(!has_averages || ckpt.config.ema > 0, path, ": holds averaged weights (ema.*), but its config has no ",
             "--ema (ema is 0)");
    for (const auto& [name, t] : file.tensors) {
        if (name.rfind(kOptimizerPrefix, 0) == 0)
            ckpt.optimizer.emplace_back(name.substr(std::string(kOptimizerPrefix).size()), t);
        else if (name.rfind(kEmaPrefix, 0) == 0)
            ckpt.ema.emplace_back(name, t);
        else
            ckpt.model.emplace_back(name, t);
    }
    return ckpt;
}

TrainConfig read_checkpoint_config(const std::string& path) { return read_checkpoint(path).config; }

void load_model_state(ImageClassifier& model, const NamedTensors& tensors, const std::string& source) {
    NamedTensors expected = model.named_parameters();
    for (const auto& buffer : model.named_buffers()) expected.push_back(buffer);
    std::map<std::string, Tensor> given;
    for (const auto& [name, t] : tensors) given.emplace(name, t);

    std::vector<std::string> unknown, missing;
    std::map<std::string, bool> known;
    for (const auto& [name, t] : expected) {
        known[name] = true;
        if (!given.count(name)) missing.push_back(name);
    }
    for (const auto& [name, t] : tensors)
        if (!known.count(name)) unknown.push_back(name);
    check_io(unknown.empty() && missing.empty(), source, ": the checkpoint's tensors do not fit the model: ",
             unknown.empty() ? "" : "the model has no " + name_list(unknown),
             unknown.empty() || missing.empty() ? "" : "; ",
             missing.empty() ? "" : "the checkpoint lacks " + name_list(missing));
    for (const auto& [name, t] : expected) {
        const Tensor& source_tensor = given.at(name);
        check_io(source_tensor.shape() == t.shape(), source, ": tensor '", name, "': the checkpoint has shape ",
                 source_tensor.shape(), " but the model expects ", t.shape());
    }
    check_finite(tensors, source);
    // The buffers are derived from the config (a relative position index, a fixed sin-cos table): the
    // model has just computed its own, and the file's must agree (to float32 rounding of the tables)
    // rather than replace them. A tampered index would otherwise gather the wrong biases silently.
    for (const auto& [name, own] : model.named_buffers()) {
        const Scalar* mine = own.data();
        const Scalar* theirs = given.at(name).data();
        for (int64_t i = 0; i < own.numel(); ++i)
            check_io(std::abs(theirs[i] - mine[i]) <= Scalar(1e-5), source, ": tensor '", name, "' element ", i,
                     " is ", theirs[i], " but the model computes ", mine[i],
                     " from its config (a derived buffer, recomputed on every load)");
    }
    for (auto& [name, t] : model.named_parameters()) {
        const Tensor& source_tensor = given.at(name);
        std::copy(source_tensor.data(), source_tensor.data() + source_tensor.numel(), t.data());
    }
}

std::unique_ptr<ImageClassifier> model_from_checkpoint(const Checkpoint& checkpoint, Kernels kernels) {
    Rng rng(0);  // the initial values are overwritten at once
    TrainConfig config = checkpoint.config;
    config.kernels = kernels;
    std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    // With --ema, each parameter's average takes its place (buffers are never averaged); an average of
    // no parameter is refused, as load_model_state refuses an unknown tensor.
    std::map<std::string, Tensor> averages;
    for (const auto& [name, average] : checkpoint.ema) averages.emplace(name.substr(std::string(kEmaPrefix).size()), average);
    NamedTensors weights = checkpoint.model;
    size_t replaced = 0;
    for (auto& [name, t] : weights)
        if (const auto found = averages.find(name); found != averages.end()) {
            t = found->second;
            ++replaced;
        }
    if (replaced != averages.size())
        for (const auto& [name, average] : averages) {
            bool known = false;
            for (const auto& [model_name, t] : checkpoint.model) known = known || model_name == name;
            check_io(known, checkpoint.path, ": tensor '", kEmaPrefix, name, "' averages no tensor of the model");
        }
    load_model_state(*model, weights, checkpoint.path);
    model->eval();
    return model;
}

}  // namespace patchgrad::cli
