// What the command line does with files and folders it should not trust: a checkpoint whose weights are
// NaN or whose derived buffers were edited, a run folder that belongs to another run, an output that is
// its own input, names that would drive the terminal, duplicate class names, an empty test set.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "core/io/atomic_file.h"
#include "core/io/safetensors.h"
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

TEST_CASE("checkpoint: a config whose buffers the file does not hold is refused before the model is built") {
    // A Swin on 28 x 28 patches of one pixel with one 28 x 28 window per block: each block's
    // relative_position_index is 784 x 784 = 614,656 numbers, against 3,044 parameters. A file holding the
    // parameters alone (here as one tensor) made model_from_checkpoint build 64 such blocks, 160 MB from a
    // 780 KB file, before load_model_state refused its names; a 16 MB file could ask for 4 GB that way.
    TempDir dir;
    const std::string path = dir.file("last.safetensors");
    save_tiny_checkpoint(path, tiny_config("vit"));
    SafetensorsFile file = load_safetensors(path);
    TrainConfig config = tiny_config("swin");
    config.patch = 1, config.embed_dim = 1, config.depths = {64}, config.swin_heads = {1}, config.window = 28;
    validate(config);
    const int64_t parameters = swin_config(config).parameter_count();
    CHECK(parameters == 194842);  // 64 blocks of 3,044, the patch embedding's 4 and the norm and head's 22
    CHECK(swin_config(config).buffer_count() == 64 * 784 * 784);
    for (auto& [key, value] : file.metadata)
        if (key == "config") value = to_json(config).dump();
    save_safetensors(path, {{"x", Tensor::zeros({parameters})}}, file.metadata);
    CHECK(contains(thrown_message([&] { read_checkpoint(path); }),
                   "metadata field 'config' describes a model of 194842 parameters and 39337984 numbers of buffers, "
                   "but the file holds only 194842 numbers"));
}

TEST_CASE("train: a run folder belongs to one run") {
    TempDir dir;
    TrainConfig first = tiny_config("vit");
    first.out = dir.str();
    first.data = dir.file("no-data");
    write_file_atomically(dir.file("config.json"), to_json(first).dump(2));
    TrainConfig other = first;
    other.dim = 16;
    // Another config is refused before anything is read or written; the folder's run is untouched.
    const std::string message = thrown_message([&] { train(other, {}); });
    CHECK(contains(message, dir.str() + " holds another run (dim is 8 there, 16 here)"));
    CHECK(contains(message, "--force"));
    CHECK_THROWS_AS(train(other, {}), UsageError);
    CHECK(read_file(dir.file("config.json"), kMaxConfigFileBytes) == to_json(first).dump(2));
    // The same run (threads may differ), or --force: on to the data, which is missing here.
    TrainConfig same = first;
    same.threads = 2;
    CHECK(contains(thrown_message([&] { train(same, {}); }), "no-data"));
    TrainOptions force;
    force.force = true;
    CHECK(contains(thrown_message([&] { train(other, force); }), "no-data"));

    // --resume continues in the checkpoint's own folder: another --out is refused, the same folder by
    // another spelling is not; --force and --resume contradict each other.
    save_tiny_checkpoint(dir.file("last.safetensors"), tiny_config("vit"));
    const auto parse_error = [](std::vector<std::string> words) {
        words.insert(words.begin(), {"patchgrad", "train"});
        std::vector<char*> argv;
        for (std::string& word : words) argv.push_back(word.data());
        TrainConfig config;
        std::string resume;
        return thrown_message([&] { parse_train_config(static_cast<int>(argv.size()), argv.data(), config, resume); });
    };
    TempDir elsewhere;
    CHECK(contains(parse_error({"--resume", dir.file("last.safetensors"), "--out", elsewhere.str()}),
                   "--out " + elsewhere.str() + " is not the folder of the resumed run, " + dir.str()));
    CHECK(parse_error({"--resume", dir.file("last.safetensors"), "--out", dir.str() + "/."}) == "");
    CHECK(contains(parse_error({"--resume", dir.file("last.safetensors"), "--force"}), "--force replaces another run"));
}

TEST_CASE("export, import, plot: an output that is its own input is refused, however it is spelled") {
    TempDir dir;
    const std::string ckpt = dir.file("best.safetensors");
    save_tiny_checkpoint(ckpt, tiny_config("vit"));
    const std::string before = read_file(ckpt, kMaxSafetensorsBytes);
    REQUIRE(::link(ckpt.c_str(), dir.file("hard.safetensors").c_str()) == 0);
    for (const std::string& out : {ckpt, dir.str() + "/./best.safetensors", dir.file("hard.safetensors")}) {
        CAPTURE(out);
        const std::string message = thrown_message([&] { run_command(run_export, {"patchgrad", "export", ckpt, out}); });
        CHECK(contains(message, "patchgrad export: the output " + out + " is the input " + ckpt + " (the same file)"));
    }
    CHECK(read_file(ckpt, kMaxSafetensorsBytes) == before);
    CHECK_THROWS_AS(run_command(run_import, {"patchgrad", "import", ckpt, "--out", ckpt}), UsageError);
    std::ofstream(dir.file("metrics.csv")) << "epoch,step,lr,train_loss,train_acc,test_loss,test_acc\n1,1,1,1,1,1,1\n";
    CHECK_THROWS_AS(run_command(run_plot, {"patchgrad", "plot", dir.str(), "--out", dir.file("metrics.csv")}),
                    UsageError);
    CHECK(run_command(run_export, {"patchgrad", "export", ckpt, dir.file("weights.safetensors")}) == 0);
}

TEST_CASE("printable: bytes a terminal would obey are escaped; text is kept") {
    CHECK(printable("frog") == "frog");
    CHECK(printable("caf\xc3\xa9 \xe2\x9c\x93") == "caf\xc3\xa9 \xe2\x9c\x93");  // UTF-8 passes
    CHECK(printable("a\x1b[2Jb\n\x7f") == "a\\x1b[2Jb\\x0a\\x7f");
    CHECK(printable("\xc2\x9b" "31m") == "\\xc2\\x9b31m");  // C1 CSI
    CHECK(printable("bad \xff utf8 \xc3\xa9") == "bad \\xff utf8 \\xc3\\xa9");
}

TEST_CASE("error_line: a message quoting a name of megabytes keeps its start and end, one short line") {
    // A checkpoint whose one tensor's name is 3 MB long and whose dtype is not read: the library's message
    // quotes the name whole; the line the command line prints keeps the file, the field and the verdict.
    TempDir dir;
    const std::string path = dir.file("long_name.safetensors");
    std::string header = R"({")" + std::string(3'000'000, 'w') + R"(":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})";
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file;
    for (int i = 0; i < 8; ++i) file += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    write_file_atomically(path, file + header + std::string(2, '\0'));
    const std::string message = thrown_message([&] { (void)load_safetensors(path); });
    REQUIRE(message.size() > 3'000'000);
    const std::string line = error_line(message);
    CHECK(line.size() <= kMaxErrorLineBytes + 64);
    CHECK(line.rfind(path + ": tensor 'www", 0) == 0);
    CHECK(contains(line, "bytes left out] ... "));
    CHECK(contains(line, "': dtype 'F16' is not supported"));
    CHECK(line.find('\n') == std::string::npos);
    // Short messages pass as printable makes them; a cut never splits a UTF-8 character.
    CHECK(error_line("x.json: bad \x1b value") == "x.json: bad \\x1b value");
    const std::string accents(2 * kMaxErrorLineBytes, 'a');
    std::string wide;
    for (size_t i = 0; i < kMaxErrorLineBytes; ++i) wide += "\xc3\xa9";  // é, two bytes each
    const std::string cut = error_line("a" + wide + accents);
    CHECK(cut.find("\\x") == std::string::npos);  // still valid UTF-8: nothing escaped
    CHECK(contains(cut, "\xc3\xa9\xc3\xa9 ... ["));
}

TEST_CASE("checkpoint: class names must be distinct and printable") {
    TempDir dir;
    const std::string path = dir.file("last.safetensors");
    save_tiny_checkpoint(path, tiny_config("vit"), {"cat", "cat"});
    CHECK(contains(load_error(path), "metadata field 'class_names' holds \"cat\" twice, expected distinct names"));
    save_tiny_checkpoint(path, tiny_config("vit"), {"\x1b[2J"});
    CHECK(contains(load_error(path), "metadata field 'class_names' holds \"\\u001b[2J\", expected a name of "
                                     "printable characters"));
}

TEST_CASE("train: CIFAR-10 class names that a checkpoint could not hold are refused with the data") {
    // batches.meta.txt's names went into every checkpoint unchecked, and read_checkpoint refused them:
    // `eval` and `--resume` failed after the whole run. load_dataset checks them before training.
    TempDir dir;
    const std::string folder = dir.file("data/cifar-10-batches-bin");
    std::filesystem::create_directories(folder);
    write_bytes(folder + "/test_batch.bin", std::vector<uint8_t>(3073, 0));
    TrainConfig config = default_config("vit", "cifar10");
    config.data = dir.file("data");
    const auto meta_error = [&](const std::string& third_name) {
        write_file_atomically(folder + "/batches.meta.txt", "airplane\nautomobile\n" + third_name +
                                                                "\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n");
        return thrown_message([&] { load_dataset(config, false); });
    };
    CHECK(meta_error("bird") == "");
    CHECK(contains(meta_error("\x1b[2Jbird"), folder + "/batches.meta.txt holds \"\\u001b[2Jbird\", expected a name "
                                                    "of printable characters"));
    CHECK(contains(meta_error("cat"), folder + "/batches.meta.txt holds \"cat\" twice, expected distinct names"));
}

TEST_CASE("eval: an empty test set is refused, not reported as 0.00%") {
    TempDir dir;
    const std::string path = dir.file("last.safetensors");
    save_tiny_checkpoint(path, tiny_config("vit"));
    std::filesystem::create_directories(dir.file("data/mnist"));
    write_bytes(dir.file("data/mnist/t10k-images-idx3-ubyte"), idx_images(0, 28, 28, {}));
    write_bytes(dir.file("data/mnist/t10k-labels-idx1-ubyte"), idx_labels(0, {}));
    CHECK(contains(thrown_message([&] {
                       run_command(run_eval, {"patchgrad", "eval", "--checkpoint", path, "--data", dir.file("data")});
                   }),
                   "evaluate: the test set is empty (0 images), expected at least 1"));
}
