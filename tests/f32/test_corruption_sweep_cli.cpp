// Corruption sweeps of the command line's readers (docs/reliability.md): a training checkpoint
// (examples/cli/checkpoint.h read_checkpoint, then model_from_checkpoint) and a run's config.json
// (examples/cli/config.h from_json + validate). Thousands of variants of a small valid file
// (tests/corruption_sweep.h), including every number of the safetensors header and of the config set
// to 0, -1, 2^31-1, 2^32-1, 2^63 ...: each must load, and then agree with the file, or throw a
// std::exception with a message. A config that claims a model far larger than the checkpoint's tensors
// must be refused before the model is built (found by this sweep: see read_checkpoint).
#include <fstream>

#include "examples/cli/checkpoint.h"
#include "tests/corruption_sweep.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir;

namespace {

// A tiny ViT for MNIST: patch 7 (a 4 x 4 grid), width 8, one block of one head: about 1,500 parameters.
TrainConfig tiny_config() {
    TrainConfig c = default_config("vit", "mnist");
    c.patch = 7;
    c.dim = 8;
    c.depth = 1;
    c.heads = 1;
    c.mlp_dim = 8;
    c.mlp_ratio = 1;
    c.epochs = 2;
    c.warmup_epochs = 1;
    c.threads = 1;
    return c;
}

void write_text(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Up to `count` of `runs`, drawn without replacement (the header has hundreds of numbers).
std::vector<std::pair<size_t, size_t>> some_of(std::vector<std::pair<size_t, size_t>> runs, size_t count, Rng& rng) {
    for (size_t i = 0; i < runs.size() && i < count; ++i)
        std::swap(runs[i], runs[i + static_cast<size_t>(rng.randint(static_cast<int64_t>(runs.size() - i)))]);
    if (runs.size() > count) runs.resize(count);
    return runs;
}

}  // namespace

TEST_CASE("corruption sweep: training checkpoints") {
    TempDir dir;
    const TrainConfig config = tiny_config();
    Rng init(5);
    std::unique_ptr<ImageClassifier> model = build_model(config, init);
    std::unique_ptr<Optimizer> optimizer = build_optimizer(config, *model);
    TrainingState state;
    state.epoch = 1;
    state.step = 8;
    state.data_rng = Rng(6).state();
    state.model_rng = Rng(7).state();
    state.best_test_acc = 0.25;
    state.best_epoch = 1;
    const std::vector<std::string> names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    const std::string valid_path = dir.file("valid.safetensors"), path = dir.file("x.safetensors");
    save_checkpoint(valid_path, config, state, names, *model, optimizer.get());
    std::string valid;
    {
        std::ifstream in(valid_path, std::ios::binary);
        valid.assign(std::istreambuf_iterator<char>(in), {});
    }
    REQUIRE(valid.size() > 4000);

    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        write_text(path, bytes);
        const Checkpoint ckpt = read_checkpoint(path);
        // What was read agrees with itself: the model it describes is built and takes its tensors.
        std::unique_ptr<ImageClassifier> rebuilt = model_from_checkpoint(ckpt);
        REQUIRE(rebuilt->parameter_count() <= static_cast<int64_t>(bytes.size()) / 4);
        REQUIRE(ckpt.class_names.size() == static_cast<size_t>(ckpt.config.num_classes));
        REQUIRE(ckpt.state.correct <= ckpt.state.seen);
    };
    const auto visit = [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); };
    Rng rng(201);
    for_each_variant(valid, {{0, 8, false}}, rng, 1000 / kSweepScale, 500 / kSweepScale, visit);

    // Numbers of the header (the config's fields inside the metadata, offsets, shapes, Rng words), each
    // set to each suspicious value, the header length made right again.
    const uint64_t header_size = read_binary_field(valid, {0, 8, false});
    const std::string header = valid.substr(8, header_size), data = valid.substr(8 + header_size);
    const auto rebuild = [&](const std::string& new_header) {
        std::string file(8, '\0');
        write_binary_field(file, {0, 8, false}, new_header.size());
        return file + new_header + data;
    };
    const size_t config_at = header.find("\"config\"");
    REQUIRE(config_at != std::string::npos);
    const size_t config_end = header.find("\"class_names\"");
    REQUIRE(config_end != std::string::npos);
    // Every number of the config (the model's shape among them), and a sample of the others.
    for_each_text_field_variant(header, digit_runs(header, config_at, config_end), rebuild, visit);
    for_each_text_field_variant(header, some_of(digit_runs(header, 0, header.size()), 150 / kSweepScale, rng), rebuild,
                                visit);
    CHECK(counts.variants >= 4000 / kSweepScale);
    CHECK(counts.refused > 0);
    CHECK(counts.accepted > 0);
    MESSAGE(counts.variants, " variants: ", counts.accepted, " read, ", counts.refused, " refused");

    // A model of 4.4 * 10^12 parameters (width 65536, 256 blocks: within the flags' ranges) in the config:
    // refused by name, before a model is built from it. Without that check, building it hung or threw
    // std::bad_alloc; with larger values, the parameter count itself overflowed.
    std::string huge = header;
    for (const auto& [field, value] : {std::pair<std::string, std::string>{"dim", "65536"}, {"depth", "256"}}) {
        const std::string key = "\\\"" + field + "\\\":";
        const size_t at = huge.find(key);
        REQUIRE(at != std::string::npos);
        huge.replace(at + key.size(), 1, value);  // both are 8 and 1: one digit
    }
    const std::string message = thrown_message([&] { read(rebuild(huge)); });
    CHECK_MESSAGE(contains(message, "metadata field 'config' describes a model of 4398483900426 parameters"), message);
}

TEST_CASE("corruption sweep: config.json") {
    TrainConfig config = tiny_config();
    config.out = "runs/x";
    const std::string valid = to_json(config).dump(2);
    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        const Json json = parse_json(bytes, "config.json");
        const TrainConfig c = from_json(json);
        validate(c);
        REQUIRE(to_json(c) == json);  // every field read as written, nothing dropped or added
    };
    const auto visit = [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); };
    Rng rng(202);
    for_each_variant(valid, {}, rng, 1000, 1000 / kSweepScale, visit);
    for_each_text_field_variant(valid, digit_runs(valid, 0, valid.size()), [](const std::string& s) { return s; },
                                visit);
    // Keys twice, or a value nested too deep: refused by the JSON parser, naming them.
    visit("{\"version\": 1, \"version\": 1}", "duplicate key");
    visit(std::string(100000, '['), "deep nesting");
    CHECK(counts.variants >= 3000 / kSweepScale);
    CHECK(counts.refused > 0);
    CHECK(counts.accepted > 0);
    MESSAGE(counts.variants, " variants: ", counts.accepted, " read, ", counts.refused, " refused");

    std::string threads = valid;
    const size_t at = threads.find("\"threads\": 1");
    REQUIRE(at != std::string::npos);
    threads.replace(at, 12, "\"threads\": 4294967297");
    CHECK(contains(thrown_message([&] { read(threads); }), "--threads"));
}
