#pragma once
// A tiny training run for the float32 tests: generated data shaped like CIFAR-10 and MNIST, and a tiny ViT
// that trains on it in a second or two. Shared by the training tests of tests/f32/, with the helpers they
// share: two checkpoints compared tensor by tensor, a run stopped and resumed, and the flag parser run on
// a list of words.
#include <csignal>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "core/io/safetensors.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/config.h"
#include "tests/temp_files.h"

namespace patchgrad::testing {

// A learnable image of class `label`: noise of mean 30 around a brightness of 20 * label (C channels,
// side S). Every patch tells the class, as in real images it takes many patches to.
inline std::vector<uint8_t> synthetic_image(int label, int64_t C, int64_t S, Rng& rng) {
    std::vector<uint8_t> pixels(C * S * S);
    for (uint8_t& p : pixels) p = static_cast<uint8_t>(20 * label + rng.randint(60));
    return pixels;
}

// data/cifar-10-batches-bin (5 training batches of `per_batch` records, a test batch of `test` records) and
// data/mnist (IDX files) under `root`, generated.
inline void write_synthetic_data(const std::string& root, int64_t per_batch, int64_t test) {
    Rng rng(42);
    std::filesystem::create_directories(root + "/cifar-10-batches-bin");
    std::filesystem::create_directories(root + "/mnist");
    const auto cifar_file = [&](const std::string& name, int64_t count) {
        std::vector<uint8_t> bytes;
        for (int64_t i = 0; i < count; ++i) {
            const int label = static_cast<int>(rng.randint(10));
            bytes.push_back(static_cast<uint8_t>(label));
            const std::vector<uint8_t> image = synthetic_image(label, 3, 32, rng);
            bytes.insert(bytes.end(), image.begin(), image.end());
        }
        write_bytes(root + "/cifar-10-batches-bin/" + name, bytes);
    };
    for (int b = 1; b <= 5; ++b) cifar_file("data_batch_" + std::to_string(b) + ".bin", per_batch);
    cifar_file("test_batch.bin", test);
    const auto mnist_files = [&](const std::string& prefix, int64_t count) {
        std::vector<uint8_t> pixels, labels;
        for (int64_t i = 0; i < count; ++i) {
            const int label = static_cast<int>(rng.randint(10));
            labels.push_back(static_cast<uint8_t>(label));
            const std::vector<uint8_t> image = synthetic_image(label, 1, 28, rng);
            pixels.insert(pixels.end(), image.begin(), image.end());
        }
        write_bytes(root + "/mnist/" + prefix + "-images-idx3-ubyte", idx_images(uint32_t(count), 28, 28, pixels));
        write_bytes(root + "/mnist/" + prefix + "-labels-idx1-ubyte", idx_labels(uint32_t(count), labels));
    };
    mnist_files("train", 5 * per_batch);
    mnist_files("t10k", test);
}

inline bool real_data_present() {
    return std::filesystem::exists("data/cifar-10-batches-bin/test_batch.bin") && std::filesystem::exists("data/mnist/t10k-labels-idx1-ubyte");
}

// The tiny ViT of these tests: patch 8 on CIFAR-10 (a 4 x 4 grid), 7 on MNIST (also 4 x 4), width 32,
// 2 blocks of 2 heads: about 24k parameters, thousands of images per second.
inline cli::TrainConfig tiny_config(const std::string& dataset, const std::string& data, const std::string& out) {
    cli::TrainConfig c = cli::default_config("vit", dataset);
    c.data = data;
    c.out = out;
    c.patch = dataset == "cifar10" ? 8 : 7;
    c.dim = 32;
    c.depth = 2;
    c.heads = 2;
    c.mlp_dim = 64;
    c.mlp_ratio = 2;
    c.batch_size = 32;
    c.epochs = 2;
    c.warmup_epochs = 0.5;
    c.lr = 2e-3;
    c.threads = 1;  // results do not depend on it; one thread is fastest for so small a model on a busy machine
    c.seed = 7;
    c.eval_batch_size = 100;
    c.pool = "cls";  // the tests count the CLS token's tensors, ops and picture (the reference ViT's head)
    c.stem = "patch";  // and the patch embedding's (CIFAR-10's default conv stem has its own tests)
    return c;
}

// 200 training images (7 batches of 32, the last one of 8) and 50 test images, generated.
struct SmallData {
    TempDir dir;
    SmallData() { write_synthetic_data(dir.str(), 40, 50); }
};

// Every tensor of two checkpoints, bit for bit (weights, buffers, optimizer state).
inline void check_same_tensors(const std::string& a, const std::string& b) {
    const SafetensorsFile fa = load_safetensors(a), fb = load_safetensors(b);
    REQUIRE(fa.tensors.size() == fb.tensors.size());
    for (size_t i = 0; i < fa.tensors.size(); ++i) {
        const std::string& name = fa.tensors[i].first;  // (clang < 16 cannot capture a structured binding)
        const Tensor& ta = fa.tensors[i].second;
        const Tensor& tb = fb.tensor(name);
        REQUIRE(ta.shape() == tb.shape());
        bool same = true;
        for (int64_t j = 0; j < ta.numel(); ++j) same = same && ta.data()[j] == tb.data()[j];
        CHECK_MESSAGE(same, "tensor ", name, " differs");
    }
}

// Trains `config` into config.out in two sessions, stopped by a SIGINT after step 2 (mid-epoch: its
// third batch trained) and resumed from last.safetensors, then holds every tensor of the result to
// `straight_last`, the last.safetensors of the same config trained in one go.
inline void check_stop_and_resume_matches(const cli::TrainConfig& config, const std::string& straight_last) {
    cli::TrainOptions options;
    options.after_step = [](const cli::StepInfo& info) {
        if (info.step == 2) cli::request_stop(SIGINT);
    };
    REQUIRE(cli::train(config, options).status == cli::TrainStatus::interrupted);
    options.after_step = nullptr;
    options.resume = config.out + "/last.safetensors";
    REQUIRE(cli::train(config, options).status == cli::TrainStatus::completed);
    check_same_tensors(straight_last, options.resume);
}

// Runs parse_train_config on the words after "patchgrad train".
inline cli::TrainConfig parse(std::vector<std::string> words, std::string* resume = nullptr) {
    words.insert(words.begin(), {"patchgrad", "train"});
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    cli::TrainConfig config;
    std::string resume_path;
    // Not inside REQUIRE: doctest would catch the UsageError the callers want to see.
    if (!cli::parse_train_config(static_cast<int>(argv.size()), argv.data(), config, resume_path))
        throw std::runtime_error("--help was printed");
    if (resume) *resume = resume_path;
    return config;
}

inline std::string usage_error(const std::vector<std::string>& words) {
    try {
        parse(words);
    } catch (const cli::UsageError& error) {
        return error.what();
    }
    return "(no UsageError)";
}

}  // namespace patchgrad::testing
