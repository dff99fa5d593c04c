// The loaders on the real datasets, when `make data` has put them under data/: the counts, the first
// labels and the normalisation constants (docs/data.md). Skipped, with a message, when they are absent.
#include <chrono>
#include <cmath>
#include <filesystem>

#include "datasets/cifar10.h"
#include "datasets/dataloader.h"
#include "datasets/mnist.h"
#include "tests/helpers.h"

using namespace patchgrad;
namespace fs = std::filesystem;

static double seconds_since(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The mean and std over every pixel of channel c, in [0, 1] units.
static std::pair<double, double> channel_stats(const ImageDataset& d, int64_t c) {
    double sum = 0, sum_sq = 0;
    const int64_t plane = d.height * d.width;
    for (int64_t n = 0; n < d.count; ++n) {
        const uint8_t* p = d.image(n) + c * plane;
        for (int64_t i = 0; i < plane; ++i) {
            sum += p[i];
            sum_sq += double(p[i]) * p[i];
        }
    }
    const double count = double(d.count) * plane;
    const double mean = sum / count;
    return {mean / 255.0, std::sqrt(sum_sq / count - mean * mean) / 255.0};
}

TEST_CASE("real CIFAR-10: counts, first labels, the normalisation constants") {
    const std::string dir = "data/cifar-10-batches-bin";
    if (!fs::exists(dir + "/data_batch_1.bin")) return;  // no `make data` yet: nothing to check
    const auto start = std::chrono::steady_clock::now();
    const ImageDataset train = load_cifar10(dir, true);
    const ImageDataset test = load_cifar10(dir, false);
    CHECK(seconds_since(start) < 30);
    CHECK(train.count == 50000);
    CHECK(test.count == 10000);
    CHECK(train.image_size() == 3072);
    CHECK(int(train.labels[0]) == 6);
    CHECK(train.class_names[train.labels[0]] == "frog");
    CHECK(int(test.labels[0]) == 3);  // cat
    std::vector<int64_t> per_class(10, 0);
    for (uint8_t l : train.labels) ++per_class[l];
    CHECK(per_class == std::vector<int64_t>(10, 5000));
    for (int64_t c = 0; c < 3; ++c) {
        const auto [mean, std] = channel_stats(train, c);
        CHECK(std::abs(mean - kCifar10Mean[c]) < 1e-4);
        CHECK(std::abs(std - kCifar10Std[c]) < 1e-4);
    }
    DataLoader loader(train, {.batch_size = 128, .shuffle = true, .random_crop = true, .horizontal_flip = true,
                              .normalization = cifar10_normalization()});
    CHECK(loader.batches_per_epoch() == 391);  // 390 full batches + 80
    Rng rng(0);
    loader.start_epoch(rng);
    CHECK(loader.batch(390, rng).images.shape() == Shape{80, 3, 32, 32});
}

TEST_CASE("real MNIST and Fashion-MNIST: counts, first labels, the normalisation constants") {
    const struct {
        const char* which;
        int first_train, first_test;
        double mean, std;
    } sets[] = {{"mnist", 5, 7, kMnistMean, kMnistStd}, {"fashion-mnist", 9, 9, kFashionMnistMean, kFashionMnistStd}};
    for (const auto& set : sets) {
        const std::string dir = std::string("data/") + set.which;
        if (!fs::exists(dir + "/train-images-idx3-ubyte")) continue;
        CAPTURE(set.which);
        const auto start = std::chrono::steady_clock::now();
        const ImageDataset train = load_mnist(dir, true, set.which);
        const ImageDataset test = load_mnist(dir, false, set.which);
        CHECK(seconds_since(start) < 30);
        CHECK(train.count == 60000);
        CHECK(test.count == 10000);
        CHECK(train.height == 28);
        CHECK(train.width == 28);
        CHECK(int(train.labels[0]) == set.first_train);
        CHECK(int(test.labels[0]) == set.first_test);
        const auto [mean, std] = channel_stats(train, 0);
        CHECK(std::abs(mean - set.mean) < 1e-4);
        CHECK(std::abs(std - set.std) < 1e-4);
    }
}
