// Dataset loaders and the DataLoader (datasets/): small files written here and read back exactly, every
// malformed input refused with the file, the expected and the found value in the message, batching,
// shuffling, normalisation and augmentation worked out by hand. The real files: tests/test_datasets_real.cpp.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "datasets/cifar10.h"
#include "datasets/dataloader.h"
#include "datasets/mnist.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

#ifdef _OPENMP
#include <omp.h>
#endif

using namespace patchgrad;
namespace fs = std::filesystem;
using testing::TempDir, testing::write_bytes, testing::idx_images, testing::idx_labels;

namespace {

// Pixels 0, 1, 2, ... (mod 256) starting at `start`: every byte distinct and predictable.
std::vector<uint8_t> counting(int64_t n, int start = 0) {
    std::vector<uint8_t> v(n);
    for (int64_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>((start + i) % 256);
    return v;
}

// A CIFAR-10 record: the label byte, then 3072 pixels (red plane, green plane, blue plane).
void append_cifar_record(std::vector<uint8_t>& bytes, uint8_t label, int start) {
    bytes.push_back(label);
    const std::vector<uint8_t> pixels = counting(3072, start);
    bytes.insert(bytes.end(), pixels.begin(), pixels.end());
}

// A tiny in-memory dataset: N images of C x H x W, image n filled with byte value n * 10 + 1 (so 0, the
// padding byte, never occurs), label n % classes.
ImageDataset tiny_dataset(int64_t N, int64_t C, int64_t H, int64_t W, int64_t classes = 10) {
    ImageDataset data;
    data.count = N;
    data.channels = C;
    data.height = H;
    data.width = W;
    data.pixels.resize(N * C * H * W);
    data.labels.resize(N);
    for (int64_t n = 0; n < N; ++n) {
        for (int64_t i = 0; i < C * H * W; ++i) data.pixels[n * C * H * W + i] = static_cast<uint8_t>(n * 10 + 1);
        data.labels[n] = static_cast<uint8_t>(n % classes);
    }
    for (int64_t k = 0; k < classes; ++k) data.class_names.push_back(std::to_string(k));
    return data;
}

// Normalisation that maps byte p to exactly p (mean 0, std 1/255), so expected values read as pixels.
Normalization identity_pixels(int64_t channels) {
    return {std::vector<double>(channels, 0.0), std::vector<double>(channels, 1.0 / 255.0)};
}

// All batches of one epoch, concatenated: images (flattened) and indices.
struct Epoch {
    std::vector<Scalar> images;
    std::vector<Scalar> labels;
    std::vector<int64_t> indices;
};
Epoch run_epoch(DataLoader& loader, Rng& rng) {
    Epoch e;
    loader.start_epoch(rng);
    for (int64_t k = 0; k < loader.batches_per_epoch(); ++k) {
        const Batch b = loader.batch(k, rng);
        const std::vector<Scalar> im = b.images.to_vector(), lb = b.labels.to_vector();
        e.images.insert(e.images.end(), im.begin(), im.end());
        e.labels.insert(e.labels.end(), lb.begin(), lb.end());
        e.indices.insert(e.indices.end(), b.indices.begin(), b.indices.end());
    }
    return e;
}

}  // namespace

// ================================================ MNIST (IDX) ===========================================

TEST_CASE("mnist: small IDX files are read back exactly, train and test, mnist and fashion-mnist") {
    TempDir dir;
    // train: 3 images of 2x3 (pixels 0..17), labels 5 0 9; test: 2 images of 2x3 (pixels 100..111)
    write_bytes(dir.file("train-images-idx3-ubyte"), idx_images(3, 2, 3, counting(18)));
    write_bytes(dir.file("train-labels-idx1-ubyte"), idx_labels(3, {5, 0, 9}));
    write_bytes(dir.file("t10k-images-idx3-ubyte"), idx_images(2, 2, 3, counting(12, 100)));
    write_bytes(dir.file("t10k-labels-idx1-ubyte"), idx_labels(2, {7, 2}));

    const ImageDataset train = load_mnist(dir.str(), true);
    CHECK(train.count == 3);
    CHECK(train.channels == 1);
    CHECK(train.height == 2);  // rows, not assumed to be 28
    CHECK(train.width == 3);
    CHECK(train.pixels == counting(18));
    CHECK(train.labels == std::vector<uint8_t>{5, 0, 9});
    CHECK(train.num_classes() == 10);
    CHECK(train.class_names[5] == "5");
    // image 1 starts at byte 1 * 6 = 6 of the pixels: 6 7 8 / 9 10 11
    CHECK(train.image(1)[0] == 6);
    CHECK(train.image(1)[5] == 11);

    const ImageDataset test = load_mnist(dir.str(), false);
    CHECK(test.count == 2);
    CHECK(test.pixels == counting(12, 100));
    CHECK(test.labels == std::vector<uint8_t>{7, 2});

    const ImageDataset fashion = load_mnist(dir.str(), true, "fashion-mnist");
    CHECK(fashion.pixels == train.pixels);
    CHECK(fashion.class_names[9] == "Ankle boot");
    CHECK(fashion.class_names[0] == "T-shirt/top");

    const std::string msg = thrown_message([&] { load_mnist(dir.str(), true, "kmnist"); });
    CHECK(contains(msg, "kmnist"));
    CHECK(contains(msg, "fashion-mnist"));
}

TEST_CASE("mnist: a missing file names the path and says to run make data") {
    TempDir dir;
    const std::string path = dir.file("train-images-idx3-ubyte");
    const std::string msg = thrown_message([&] { load_mnist(dir.str(), true); });
    CHECK(contains(msg, "mnist: " + path));
    CHECK(contains(msg, "not found"));
    CHECK(contains(msg, "make data"));
    // the loader is named by `which`
    CHECK(contains(thrown_message([&] { load_mnist(dir.str(), false, "fashion-mnist"); }),
                   "fashion-mnist: " + dir.file("t10k-images-idx3-ubyte")));
    // and it is a std::runtime_error: the input is wrong, not the caller
    CHECK_THROWS_AS(load_mnist(dir.str(), true), std::runtime_error);
}

TEST_CASE("mnist: malformed image files are refused with the file, the expected and the found value") {
    TempDir dir;
    const std::string images = dir.file("t10k-images-idx3-ubyte");
    const std::string labels = dir.file("t10k-labels-idx1-ubyte");
    write_bytes(labels, idx_labels(2, {1, 2}));
    const auto message_for = [&](const std::vector<uint8_t>& bytes) {
        write_bytes(images, bytes);
        return thrown_message([&] { load_mnist(dir.str(), false); });
    };

    SUBCASE("wrong magic: a label file where the images should be") {
        const std::string msg = message_for(idx_labels(10, {1, 2, 3, 4, 5, 6, 7, 8, 9, 0}));
        CHECK(contains(msg, "mnist: " + images + ": magic 0x801, expected 0x803"));
    }
    SUBCASE("shorter than the 16-byte header") {
        const std::string msg = message_for({0, 0, 8, 3, 0, 0});
        CHECK(contains(msg, images));
        CHECK(contains(msg, "truncated"));
        CHECK(contains(msg, "6 bytes"));
        CHECK(contains(msg, "16-byte"));
    }
    SUBCASE("truncated: the header promises 2 images of 2x2 = 16 + 8 = 24 bytes, the file has 23") {
        const std::string msg = message_for(idx_images(2, 2, 2, counting(7)));
        CHECK(contains(msg, images));
        CHECK(contains(msg, "truncated"));
        CHECK(contains(msg, "needs 24 bytes"));
        CHECK(contains(msg, "has 23 bytes"));
    }
    SUBCASE("trailing bytes: 2 images of 2x2 need 24 bytes, the file has 25") {
        const std::string msg = message_for(idx_images(2, 2, 2, counting(9)));
        CHECK(contains(msg, images));
        CHECK(contains(msg, "trailing bytes"));
        CHECK(contains(msg, "needs 24 bytes"));
        CHECK(contains(msg, "has 25 bytes"));
    }
    SUBCASE("rows 0") {
        const std::string msg = message_for(idx_images(2, 0, 28, {}));
        CHECK(contains(msg, images + ": rows 0, expected 1..65535"));
    }
    SUBCASE("cols beyond the bound") {
        const std::string msg = message_for(idx_images(2, 28, 70000, {}));
        CHECK(contains(msg, images + ": cols 70000, expected 1..65535"));
    }
    SUBCASE("a negative count (0xFFFFFFFF is -1 as an int32)") {
        const std::string msg = message_for(idx_images(0xFFFFFFFFu, 28, 28, {}));
        CHECK(contains(msg, images + ": image count -1, expected 0 or more"));
    }
    SUBCASE("a huge count is checked against the file size before anything is allocated") {
        // 2^31 - 1 images of 65535 x 65535 would be 9.2e18 bytes; the file has 16.
        const std::string msg = message_for(idx_images(0x7FFFFFFF, 65535, 65535, {}));
        CHECK(contains(msg, "truncated"));
        CHECK(contains(msg, "needs 9223090559730712591 bytes"));  // 16 + (2^31 - 1) * 65535^2
        CHECK(contains(msg, "has 16 bytes"));
    }
}

TEST_CASE("mnist: malformed label files and disagreeing counts are refused") {
    TempDir dir;
    const std::string images = dir.file("train-images-idx3-ubyte");
    const std::string labels = dir.file("train-labels-idx1-ubyte");
    write_bytes(images, idx_images(3, 2, 2, counting(12)));
    const auto message_for = [&](const std::vector<uint8_t>& bytes) {
        write_bytes(labels, bytes);
        return thrown_message([&] { load_mnist(dir.str(), true); });
    };

    SUBCASE("wrong magic") {
        const std::string msg = message_for(idx_labels(3, {1, 2, 3}, 0x803));
        CHECK(contains(msg, "mnist: " + labels + ": magic 0x803, expected 0x801"));
    }
    SUBCASE("shorter than the 8-byte header") {
        const std::string msg = message_for({0, 0, 8, 1});
        CHECK(contains(msg, labels));
        CHECK(contains(msg, "4 bytes"));
        CHECK(contains(msg, "8-byte"));
    }
    SUBCASE("truncated: 3 labels need 8 + 3 = 11 bytes, the file has 10") {
        const std::string msg = message_for(idx_labels(3, {1, 2}));
        CHECK(contains(msg, labels));
        CHECK(contains(msg, "truncated"));
        CHECK(contains(msg, "needs 11 bytes"));
        CHECK(contains(msg, "has 10 bytes"));
    }
    SUBCASE("trailing bytes: 3 labels need 11 bytes, the file has 12") {
        const std::string msg = message_for(idx_labels(3, {1, 2, 3, 4}));
        CHECK(contains(msg, "trailing bytes"));
        CHECK(contains(msg, "needs 11 bytes"));
        CHECK(contains(msg, "has 12 bytes"));
    }
    SUBCASE("a label out of range names its index and value") {
        const std::string msg = message_for(idx_labels(3, {1, 10, 3}));
        CHECK(contains(msg, labels + ": label 10 at index 1, expected 0..9"));
    }
    SUBCASE("3 images but 2 labels: both files and both counts") {
        const std::string msg = message_for(idx_labels(2, {1, 2}));
        CHECK(contains(msg, images + " has 3 images"));
        CHECK(contains(msg, labels + " has 2 labels"));
    }
}

// ================================================ CIFAR-10 ==============================================

TEST_CASE("cifar10: small batch files are read back exactly, in batch order, with class names") {
    TempDir dir;
    // data_batch_b holds 2 records: labels (b, b + 1) mod 10, pixels counting from 10 b and 10 b + 1
    for (int b = 1; b <= 5; ++b) {
        std::vector<uint8_t> bytes;
        append_cifar_record(bytes, static_cast<uint8_t>(b % 10), 10 * b);
        append_cifar_record(bytes, static_cast<uint8_t>((b + 1) % 10), 10 * b + 1);
        write_bytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), bytes);
    }
    std::vector<uint8_t> test_bytes;
    for (int r = 0; r < 3; ++r) append_cifar_record(test_bytes, static_cast<uint8_t>(9 - r), 200 + r);
    write_bytes(dir.file("test_batch.bin"), test_bytes);

    const ImageDataset train = load_cifar10(dir.str(), true);
    CHECK(train.count == 10);
    CHECK(train.channels == 3);
    CHECK(train.height == 32);
    CHECK(train.width == 32);
    CHECK(train.pixels.size() == 10u * 3072);
    CHECK(train.labels == std::vector<uint8_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6});
    for (int64_t n = 0; n < 10; ++n) {
        const int start = 10 * (1 + static_cast<int>(n / 2)) + static_cast<int>(n % 2);
        const std::vector<uint8_t> expected = counting(3072, start);
        CHECK(std::equal(expected.begin(), expected.end(), train.image(n)));
    }
    // (C, H, W): the green pixel at row 2, column 5 of image 0 is record byte 1 + 1024 + 2*32 + 5, i.e.
    // pixel number 1024 + 69 = 1093 counting from 10: (10 + 1093) mod 256 = 79
    CHECK(train.image(0)[(1 * 32 + 2) * 32 + 5] == 79);
    // no batches.meta.txt: the built-in names
    CHECK(train.class_names.size() == 10);
    CHECK(train.class_names[6] == "frog");

    const ImageDataset test = load_cifar10(dir.str(), false);
    CHECK(test.count == 3);
    CHECK(test.labels == std::vector<uint8_t>{9, 8, 7});
    CHECK(test.image(2)[0] == 202);

    // batches.meta.txt, when present, names the classes (trailing blank lines and \r are ignored)
    {
        std::ofstream meta(dir.file("batches.meta.txt"));
        for (int k = 0; k < 10; ++k) meta << "class" << k << "\r\n";
        meta << "\n\n";
    }
    CHECK(load_cifar10(dir.str(), false).class_names[3] == "class3");
    {
        std::ofstream meta(dir.file("batches.meta.txt"));
        for (int k = 0; k < 9; ++k) meta << "class" << k << "\n";
    }
    const std::string msg = thrown_message([&] { load_cifar10(dir.str(), false); });
    CHECK(contains(msg, dir.file("batches.meta.txt") + ": 9 class names, expected 10"));
}

TEST_CASE("cifar10: parse_cifar10_class_names reads batches.meta.txt's text, one name a line") {
    const std::vector<std::string> names = {"airplane", "automobile", "bird", "cat", "deer",
                                            "dog",      "frog",       "horse", "ship", "truck"};
    CHECK(parse_cifar10_class_names("airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n\n",
                                    "meta") == names);  // the real file: names, then a blank line
    // \r\n line ends, trailing spaces, blank lines anywhere and no final newline are dropped; leading
    // spaces are kept
    std::vector<std::string> spaced = names;
    spaced[0] = " airplane";
    CHECK(parse_cifar10_class_names("\n airplane\r\nautomobile  \r\n\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck",
                                    "meta") == spaced);
    CHECK(contains(thrown_message([] { parse_cifar10_class_names("", "x/batches.meta.txt"); }),
                   "cifar10: x/batches.meta.txt: 0 class names, expected 10 (one per line)"));
    CHECK(contains(thrown_message([] { parse_cifar10_class_names("a\nb\nc\nd\ne\nf\ng\nh\ni\nj\nk\n", "m"); }),
                   "m: more than 10 class names, expected 10"));
}

TEST_CASE("cifar10: malformed batch files are refused with the file, the expected and the found value") {
    TempDir dir;
    const std::string path = dir.file("test_batch.bin");
    const auto message_for = [&](const std::vector<uint8_t>& bytes) {
        write_bytes(path, bytes);
        return thrown_message([&] { load_cifar10(dir.str(), false); });
    };

    SUBCASE("missing") {
        const std::string msg = thrown_message([&] { load_cifar10(dir.str(), false); });
        CHECK(contains(msg, "cifar10: " + path + ": file not found"));
        CHECK(contains(msg, "make data"));
    }
    SUBCASE("a training batch missing in the middle") {
        std::vector<uint8_t> one;
        append_cifar_record(one, 0, 0);
        for (int b : {1, 2, 4, 5}) write_bytes(dir.file("data_batch_" + std::to_string(b) + ".bin"), one);
        const std::string msg = thrown_message([&] { load_cifar10(dir.str(), true); });
        CHECK(contains(msg, dir.file("data_batch_3.bin") + ": file not found"));
    }
    SUBCASE("not a whole number of records: 2 records and 5 bytes") {
        std::vector<uint8_t> bytes;
        append_cifar_record(bytes, 1, 0);
        append_cifar_record(bytes, 2, 0);
        bytes.insert(bytes.end(), 5, 7);
        const std::string msg = message_for(bytes);
        CHECK(contains(msg, path + ": size 6151 bytes, expected a positive multiple of 3073"));
        CHECK(contains(msg, "5 bytes left over"));
    }
    SUBCASE("truncated inside the first record") {
        const std::string msg = message_for(std::vector<uint8_t>(3000, 1));
        CHECK(contains(msg, path + ": size 3000 bytes, expected a positive multiple of 3073"));
    }
    SUBCASE("empty") {
        const std::string msg = message_for({});
        CHECK(contains(msg, path + ": size 0 bytes, expected a positive multiple of 3073"));
    }
    SUBCASE("a label byte out of range names the record and the value") {
        std::vector<uint8_t> bytes;
        append_cifar_record(bytes, 3, 0);
        append_cifar_record(bytes, 10, 0);
        const std::string msg = message_for(bytes);
        CHECK(contains(msg, path + ": label 10 at record 1, expected 0..9"));
    }
}

// ================================================ DataLoader ============================================

TEST_CASE("DataLoader: batch shapes, the last partial batch, dataset order without shuffling") {
    const ImageDataset data = tiny_dataset(10, 1, 2, 2);
    DataLoader loader(data, {.batch_size = 4});
    CHECK(loader.size() == 10);
    CHECK(loader.batches_per_epoch() == 3);  // ceil(10 / 4): 4 + 4 + 2
    Rng rng(0);
    loader.start_epoch(rng);
    const Batch first = loader.batch(0, rng);
    CHECK(first.images.shape() == Shape{4, 1, 2, 2});
    CHECK(first.labels.shape() == Shape{4});
    const Batch last = loader.batch(2, rng);
    CHECK(last.images.shape() == Shape{2, 1, 2, 2});
    CHECK(last.indices == std::vector<int64_t>{8, 9});
    check_values(last.labels, {2}, {8, 9});
    // no normalisation: byte / 255; example 8 is filled with 81, example 9 with 91
    check_values(last.images, {2, 1, 2, 2},
                 {81 / 255.0, 81 / 255.0, 81 / 255.0, 81 / 255.0, 91 / 255.0, 91 / 255.0, 91 / 255.0, 91 / 255.0},
                 1e-12);
    CHECK(loader.batch(1, rng).indices == std::vector<int64_t>{4, 5, 6, 7});
    // a batch size larger than the dataset: one batch with everything
    DataLoader whole(data, {.batch_size = 64});
    CHECK(whole.batches_per_epoch() == 1);
    CHECK(whole.batch(0, rng).images.shape() == Shape{10, 1, 2, 2});
}

TEST_CASE("DataLoader: shuffling visits every example exactly once per epoch, in a new order each epoch") {
    const ImageDataset data = tiny_dataset(23, 1, 3, 3);
    DataLoader loader(data, {.batch_size = 5, .shuffle = true});
    Rng rng(42);
    const Epoch e1 = run_epoch(loader, rng);
    const Epoch e2 = run_epoch(loader, rng);
    for (const Epoch* e : {&e1, &e2}) {
        std::vector<int64_t> sorted = e->indices;
        std::sort(sorted.begin(), sorted.end());
        std::vector<int64_t> expected(23);
        for (int64_t i = 0; i < 23; ++i) expected[i] = i;
        CHECK(sorted == expected);
        // labels and images travel with their index: example n is filled with n * 10 + 1, label n % 10
        for (size_t i = 0; i < e->indices.size(); ++i) {
            CHECK(e->labels[i] == static_cast<Scalar>(e->indices[i] % 10));
            CHECK(std::abs(e->images[i * 9] - (e->indices[i] * 10 + 1) / 255.0) < 1e-12);
        }
    }
    CHECK(e1.indices != e2.indices);  // 23! orders: two equal draws would be a bug
    std::vector<int64_t> identity(23);
    for (int64_t i = 0; i < 23; ++i) identity[i] = i;
    CHECK(e1.indices != identity);
}

TEST_CASE("DataLoader: the same Rng state gives the same batches; a resumed run matches an uninterrupted one") {
    const ImageDataset data = tiny_dataset(17, 3, 4, 4);
    const DataLoaderOptions options{.batch_size = 4, .shuffle = true, .random_crop = true, .crop_padding = 1,
                                    .horizontal_flip = true, .normalization = cifar10_normalization()};
    // uninterrupted: three epochs
    DataLoader a(data, options);
    Rng rng_a(7);
    run_epoch(a, rng_a);
    run_epoch(a, rng_a);
    const Epoch third_a = run_epoch(a, rng_a);

    // interrupted after two epochs: the data Rng's state is saved, a new process restores it
    Rng::State saved;
    {
        DataLoader b(data, options);
        Rng rng_b(7);
        run_epoch(b, rng_b);
        run_epoch(b, rng_b);
        saved = rng_b.state();
    }
    DataLoader resumed(data, options);
    Rng rng_resumed(999);  // whatever seed: the restored state is what counts
    rng_resumed.set_state(saved);
    const Epoch third_b = run_epoch(resumed, rng_resumed);
    CHECK(third_a.indices == third_b.indices);
    CHECK(third_a.images == third_b.images);  // the same crops and flips, bit for bit

    // a different seed gives a different epoch
    DataLoader c(data, options);
    Rng seed_7(7), seed_8(8);
    CHECK(run_epoch(c, seed_7).indices != run_epoch(c, seed_8).indices);
}

TEST_CASE("DataLoader: per-channel normalisation, worked out by hand") {
    // one 3-channel 1x1 image: bytes (51, 102, 255)
    ImageDataset data = tiny_dataset(1, 3, 1, 1);
    data.pixels = {51, 102, 255};
    Rng rng(0);
    // mean (0.5, 0.2, 0), std (0.25, 0.5, 2):
    //   (51/255 - 0.5) / 0.25 = (0.2 - 0.5) / 0.25 = -1.2
    //   (102/255 - 0.2) / 0.5 = (0.4 - 0.2) / 0.5  =  0.4
    //   (255/255 - 0) / 2     = 0.5
    DataLoader loader(data, {.batch_size = 1, .normalization = {{0.5, 0.2, 0.0}, {0.25, 0.5, 2.0}}});
    check_values(loader.batch(0, rng).images, {1, 3, 1, 1}, {-1.2, 0.4, 0.5}, 1e-12);
    // CIFAR-10's constants: red (0.2 - 0.4914) / 0.2470 = -1.17975709
    DataLoader cifar(data, {.batch_size = 1, .normalization = cifar10_normalization()});
    CHECK(std::abs(cifar.batch(0, rng).images.data()[0] - (0.2 - 0.4914) / 0.2470) < 1e-12);
    CHECK(std::abs(cifar.batch(0, rng).images.data()[0] - -1.17975709) < 1e-8);
    // MNIST's: (0.2 - 0.1307) / 0.3081 = 0.22492697
    const ImageDataset grey = tiny_dataset(1, 1, 1, 1);  // byte 1
    DataLoader mnist(grey, {.batch_size = 1, .normalization = mnist_normalization()});
    CHECK(std::abs(mnist.batch(0, rng).images.data()[0] - (1 / 255.0 - 0.1307) / 0.3081) < 1e-12);
    DataLoader fashion(grey, {.batch_size = 1, .normalization = fashion_mnist_normalization()});
    CHECK(std::abs(fashion.batch(0, rng).images.data()[0] - (1 / 255.0 - 0.2860) / 0.3530) < 1e-12);
}

// The draws of one example, in the documented order: dy, dx (crop), then the flip.
struct Draws {
    int64_t dy, dx;
    bool flip;
};
// A seed whose first draws are `want`, so a test can state the expected image by hand.
static uint64_t seed_drawing(int64_t padding, Draws want, bool crop, bool flip) {
    for (uint64_t seed = 0; seed < 100000; ++seed) {
        Rng r(seed);
        Draws d{padding, padding, false};
        if (crop) {
            d.dy = r.randint(2 * padding + 1);
            d.dx = r.randint(2 * padding + 1);
        }
        if (flip) d.flip = r.randint(2) == 1;
        if (d.dy == want.dy && d.dx == want.dx && d.flip == want.flip) return seed;
    }
    FAIL("no seed draws the wanted augmentation");
    return 0;
}

TEST_CASE("DataLoader: random crop and horizontal flip on a 1x4x4 image, by hand") {
    // the image      padded by 1 (6x6), zeros around
    //  1  2  3  4
    //  5  6  7  8
    //  9 10 11 12
    // 13 14 15 16
    ImageDataset data = tiny_dataset(1, 1, 4, 4);
    for (int i = 0; i < 16; ++i) data.pixels[i] = static_cast<uint8_t>(i + 1);
    const Normalization pixels = identity_pixels(1);

    SUBCASE("crop at (dy, dx) = (0, 2): source rows -1..2, columns 1..4") {
        Rng rng(seed_drawing(1, {0, 2, false}, true, false));
        DataLoader loader(data, {.batch_size = 1, .random_crop = true, .crop_padding = 1, .normalization = pixels});
        check_values(loader.batch(0, rng).images, {1, 1, 4, 4},
                     {0, 0, 0, 0,  //
                      2, 3, 4, 0,  //
                      6, 7, 8, 0,  //
                      10, 11, 12, 0},
                     1e-9);
    }
    SUBCASE("flip only: every row reversed") {
        Rng rng(seed_drawing(1, {1, 1, true}, false, true));
        DataLoader loader(data, {.batch_size = 1, .horizontal_flip = true, .normalization = pixels});
        check_values(loader.batch(0, rng).images, {1, 1, 4, 4},
                     {4, 3, 2, 1,  //
                      8, 7, 6, 5,  //
                      12, 11, 10, 9,  //
                      16, 15, 14, 13},
                     1e-9);
    }
    SUBCASE("crop at (2, 0), then flip: rows 1..4, columns -1..2, mirrored") {
        // cropped: 0 5 6 7 / 0 9 10 11 / 0 13 14 15 / 0 0 0 0; flipped: each row reversed
        Rng rng(seed_drawing(1, {2, 0, true}, true, true));
        DataLoader loader(data, {.batch_size = 1, .random_crop = true, .crop_padding = 1,
                                 .horizontal_flip = true, .normalization = pixels});
        check_values(loader.batch(0, rng).images, {1, 1, 4, 4},
                     {7, 6, 5, 0,  //
                      11, 10, 9, 0,  //
                      15, 14, 13, 0,  //
                      0, 0, 0, 0},
                     1e-9);
    }
    SUBCASE("the padding is black before normalising: (0 - 0.5) / 0.5 = -1") {
        Rng rng(seed_drawing(1, {0, 0, false}, true, false));
        DataLoader loader(data, {.batch_size = 1, .random_crop = true, .crop_padding = 1,
                                 .normalization = {{0.5}, {0.5}}});
        const Tensor out = loader.batch(0, rng).images;
        CHECK(std::abs(out.data()[0] - -1.0) < 1e-12);                     // padded corner
        CHECK(std::abs(out.data()[5] - (1 / 255.0 - 0.5) / 0.5) < 1e-12);  // (1, 1) is source (0, 0) = 1
    }
}

TEST_CASE("DataLoader: evaluation (no shuffle, no augmentation) draws nothing and returns the images as they are") {
    ImageDataset data = tiny_dataset(3, 1, 4, 4);
    for (size_t i = 0; i < data.pixels.size(); ++i) data.pixels[i] = static_cast<uint8_t>(i);
    DataLoader loader(data, {.batch_size = 3, .normalization = identity_pixels(1)});
    Rng rng(5);
    const Rng::State before = rng.state();
    loader.start_epoch(rng);
    const Batch b = loader.batch(0, rng);
    CHECK(rng.state() == before);  // no draws at all
    std::vector<double> expected(48);
    for (int i = 0; i < 48; ++i) expected[i] = i;
    check_values(b.images, {3, 1, 4, 4}, expected, 1e-9);
    CHECK(b.indices == std::vector<int64_t>{0, 1, 2});
}

TEST_CASE("DataLoader: limit uses only the first N examples") {
    const ImageDataset data = tiny_dataset(10, 1, 2, 2);
    DataLoader loader(data, {.batch_size = 2, .shuffle = true, .limit = 5});
    CHECK(loader.size() == 5);
    CHECK(loader.batches_per_epoch() == 3);
    Rng rng(3);
    std::vector<int64_t> seen = run_epoch(loader, rng).indices;
    std::sort(seen.begin(), seen.end());
    CHECK(seen == std::vector<int64_t>{0, 1, 2, 3, 4});
    // a limit beyond the dataset means all of it
    CHECK(DataLoader(data, {.limit = 1000}).size() == 10);
}

TEST_CASE("DataLoader: the batch does not depend on the number of threads") {
    // 64 images of 3x16x16 = 49152 numbers: above the parallel threshold
    const ImageDataset data = tiny_dataset(64, 3, 16, 16);
    const DataLoaderOptions options{.batch_size = 64, .shuffle = true, .random_crop = true,
                                    .horizontal_flip = true, .normalization = cifar10_normalization()};
    DataLoader loader(data, options);
    Rng rng1(11), rng2(11);
#ifdef _OPENMP
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#endif
    const Epoch serial = run_epoch(loader, rng1);
#ifdef _OPENMP
    omp_set_num_threads(std::max(threads, 4));
#endif
    const Epoch parallel = run_epoch(loader, rng2);
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    CHECK(serial.images == parallel.images);
    CHECK(serial.indices == parallel.indices);
}

TEST_CASE("DataLoader: bad options and bad batch indices throw with the values") {
    const ImageDataset data = tiny_dataset(10, 3, 2, 2);
    CHECK(contains(thrown_message([&] { DataLoader(data, {.batch_size = 0}); }), "batch_size 0, expected 1 or more"));
    CHECK(contains(thrown_message([&] { DataLoader(data, {.crop_padding = -1}); }), "crop_padding -1"));
    CHECK(contains(thrown_message([&] { DataLoader(data, {.limit = -2}); }), "limit -2"));
    const std::string norm = thrown_message([&] { DataLoader(data, {.normalization = mnist_normalization()}); });
    CHECK(contains(norm, "1 means and 1 stds, expected 3"));
    CHECK(contains(thrown_message([&] { DataLoader(data, {.normalization = {{0, 0, 0}, {1, 0, 1}}}); }),
                   "std 0, expected > 0"));
    ImageDataset broken = data;
    broken.pixels.pop_back();
    CHECK(contains(thrown_message([&] { DataLoader(broken, {}); }), "119 pixel bytes, expected 10 x (3, 2, 2) = 120"));

    DataLoader loader(data, {.batch_size = 4, .shuffle = true});
    Rng rng(0);
    CHECK(contains(thrown_message([&] { loader.batch(0, rng); }), "start_epoch"));
    loader.start_epoch(rng);
    const std::string msg = thrown_message([&] { loader.batch(3, rng); });
    CHECK(contains(msg, "index 3, expected 0..2"));
    CHECK(contains(thrown_message([&] { loader.batch(-1, rng); }), "index -1"));
}

// ================================================ the real data =========================================
// Present after `make data` (data/ at the repository root; the tests run from there). Skipped otherwise.
