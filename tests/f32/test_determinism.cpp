// Reproducibility of a whole training run (docs/reliability.md): the same config and seed give the same
// weights, bit for bit, whether the run uses 1 OpenMP thread or 2, and whether it is run once or twice;
// another seed gives other weights. The tiny ViT and Swin here are just large enough (batch 32, 50 and
// 196 tokens) that the ops' OpenMP loops really split (op_helpers.h: 32768 elements), so a kernel whose
// summation order depended on the thread count would change the bits within a few steps.
//
// The data is generated (MNIST-shaped IDX files); augmentation and dropout are on, so every Rng of the
// run (weights, data order, crops, dropout) is exercised.
#include <cstring>
#include <filesystem>

#include "examples/cli/commands.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir, testing::write_bytes, testing::idx_images, testing::idx_labels;

namespace {

// data/mnist under `root`: `count` training and `count` test images of 28 x 28, each of class `label`
// with brightness 20 * label plus noise, as IDX files.
void write_mnist_like(const std::string& root, int64_t count) {
    Rng rng(3);
    std::filesystem::create_directories(root + "/mnist");
    for (const std::string prefix : {"train", "t10k"}) {
        std::vector<uint8_t> pixels, labels;
        for (int64_t i = 0; i < count; ++i) {
            const int label = static_cast<int>(rng.randint(10));
            labels.push_back(static_cast<uint8_t>(label));
            for (int p = 0; p < 28 * 28; ++p) pixels.push_back(static_cast<uint8_t>(20 * label + rng.randint(60)));
        }
        write_bytes(root + "/mnist/" + prefix + "-images-idx3-ubyte", idx_images(uint32_t(count), 28, 28, pixels));
        write_bytes(root + "/mnist/" + prefix + "-labels-idx1-ubyte", idx_labels(uint32_t(count), labels));
    }
}

// 160 training images in batches of 32: 5 steps per epoch, 4 epochs = 20 steps.
TrainConfig tiny_config(const std::string& model, const std::string& data, const std::string& out) {
    TrainConfig c = default_config(model, "mnist");
    c.data = data;
    c.out = out;
    if (model == "vit") {  // patch 4: a 7 x 7 grid, 50 tokens with the CLS token
        c.patch = 4;
        c.dim = 32;
        c.depth = 2;
        c.heads = 2;
        c.mlp_dim = 64;
        c.mlp_ratio = 2;
    } else {  // patch 2: a 14 x 14 grid, windows of 7, merged to 7 x 7
        c.embed_dim = 16;
        c.depths = {1, 1};
        c.swin_heads = {1, 2};
    }
    c.batch_size = 32;
    c.epochs = 4;
    c.warmup_epochs = 1;
    c.lr = 2e-3;
    c.dropout = 0.1;
    c.seed = 11;
    c.limit = 160;
    c.test_limit = 32;
    c.eval_batch_size = 32;
    return c;
}

// Every tensor of the run's last checkpoint (weights, buffers and optimizer state), as stored.
NamedTensors final_tensors(const TrainConfig& config, int threads) {
    return with_threads(threads, [&] {
        TrainConfig c = config;
        c.threads = threads;  // train() sets OpenMP's thread count from the config; with_threads puts it back
        const TrainResult result = train(c);
        REQUIRE(result.status == TrainStatus::completed);
        REQUIRE(result.state.step == 20);
        const Checkpoint last = read_checkpoint(c.out + "/last.safetensors");
        NamedTensors tensors = last.model;
        for (const auto& [name, t] : last.optimizer) tensors.emplace_back("optimizer." + name, t);
        return tensors;
    });
}

// The names of the tensors that differ in a single bit (empty: identical); sizes must agree.
std::vector<std::string> differing_tensors(const NamedTensors& a, const NamedTensors& b) {
    REQUIRE(a.size() == b.size());
    std::vector<std::string> differ;
    for (size_t i = 0; i < a.size(); ++i) {
        REQUIRE(a[i].first == b[i].first);
        REQUIRE(a[i].second.shape() == b[i].second.shape());
        const size_t bytes = static_cast<size_t>(a[i].second.numel()) * sizeof(Scalar);
        if (std::memcmp(a[i].second.data(), b[i].second.data(), bytes) != 0) differ.push_back(a[i].first);
    }
    return differ;
}

std::string joined(const std::vector<std::string>& names) {
    std::string text;
    for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
    return text;
}

}  // namespace

// Two threads are slow on a busy machine (OpenMP's threads wait for each other at every loop), so the
// runs with 2 threads are one per model; the repeat and the other seed use 1 thread.
TEST_CASE("determinism: 1 and 2 threads, and two runs, give bit-identical weights; another seed does not") {
    TempDir data;
    write_mnist_like(data.str(), 160);
    for (const std::string model : {"vit", "swin"}) {
        CAPTURE(model);
        TempDir one, two, again, other;
        const NamedTensors one_thread = final_tensors(tiny_config(model, data.str(), one.str()), 1);
        const NamedTensors two_threads = final_tensors(tiny_config(model, data.str(), two.str()), 2);
        REQUIRE(one_thread.size() > 10);
        std::vector<std::string> differ = differing_tensors(one_thread, two_threads);
        CHECK_MESSAGE(differ.empty(), "1 vs 2 threads: these tensors differ: ", joined(differ));
        if (model == "swin") continue;  // the repeat and the seed do not depend on the model

        const NamedTensors one_again = final_tensors(tiny_config(model, data.str(), again.str()), 1);
        differ = differing_tensors(one_thread, one_again);
        CHECK_MESSAGE(differ.empty(), "two runs with 1 thread: these tensors differ: ", joined(differ));

        TrainConfig reseeded = tiny_config(model, data.str(), other.str());
        reseeded.seed = 12;
        differ = differing_tensors(one_thread, final_tensors(reseeded, 1));
        // Every weight matrix starts from other random values, so nearly every tensor differs.
        CHECK_MESSAGE(differ.size() > one_thread.size() / 2, "seed 11 vs 12: only ", differ.size(), " of ",
                      one_thread.size(), " tensors differ");
    }
}
