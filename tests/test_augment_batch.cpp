// The stronger augmentations of datasets/augment.h, part 2: Random Erasing, mixup and CutMix, the mirror
// image of a batch (for evaluation), and the DataLoader with all of them on: the draws it makes, in the documented order, the same batches for the same
// Rng state and any thread count, and, with them off, exactly the batches of the loader before them.
// Part 1, tests/test_augment.cpp: the RandAugment ops by hand and the Gamma and Beta samplers.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "datasets/augment.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// N images of C x H x W whose bytes are (i * 37 + 11) mod 256 over the whole pixel array (never constant
// over an image, and 0 only where i * 37 + 11 = 256 k), label n % 10.
ImageDataset varied_dataset(int64_t N, int64_t C, int64_t H, int64_t W) {
    ImageDataset data;
    data.count = N, data.channels = C, data.height = H, data.width = W;
    data.pixels.resize(N * C * H * W);
    data.labels.resize(N);
    for (size_t i = 0; i < data.pixels.size(); ++i) data.pixels[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
    for (int64_t n = 0; n < N; ++n) data.labels[n] = static_cast<uint8_t>(n % 10);
    for (int k = 0; k < 10; ++k) data.class_names.push_back(std::to_string(k));
    return data;
}

// Normalisation that maps byte p to p (mean 0, std 1/255), so values read as bytes.
Normalization identity_pixels(int64_t channels) {
    return {std::vector<double>(channels, 0.0), std::vector<double>(channels, 1.0 / 255.0)};
}

// All batches of one epoch, mixed when `mixing` enables it, concatenated.
struct Epoch {
    std::vector<Scalar> images;
    std::vector<int64_t> indices;
    std::vector<double> mix_weights;
};
Epoch run_epoch(DataLoader& loader, Rng& rng, const MixOptions& mixing = {}) {
    Epoch e;
    loader.start_epoch(rng);
    for (int64_t k = 0; k < loader.batches_per_epoch(); ++k) {
        Batch b = loader.batch(k, rng);
        mix_batch(b, mixing, rng);
        const std::vector<Scalar> im = b.images.to_vector();
        e.images.insert(e.images.end(), im.begin(), im.end());
        e.indices.insert(e.indices.end(), b.indices.begin(), b.indices.end());
        e.mix_weights.push_back(b.mix_weight);
    }
    return e;
}

// A batch of B images of C x H x W, image b filled with 10 (b + 1) + c in channel c, label b.
Batch constant_batch(int64_t B, int64_t C, int64_t H, int64_t W) {
    Batch batch;
    batch.images = Tensor::empty({B, C, H, W});
    batch.labels = Tensor::empty({B});
    for (int64_t b = 0; b < B; ++b) {
        for (int64_t c = 0; c < C; ++c)
            std::fill_n(batch.images.data() + (b * C + c) * H * W, H * W, Scalar(10 * (b + 1) + c));
        batch.labels.data()[b] = Scalar(b);
        batch.indices.push_back(b);
    }
    return batch;
}

}  // namespace

// ================================================ Random Erasing ========================================

TEST_CASE("augment: draw_random_erasing draws as documented, and its boxes keep the paper's bounds") {
    const int64_t H = 32, W = 32;
    Rng rng(4), replay(4);
    int erased = 0, wide = 0, tall = 0;
    double smallest = 1, largest = 0;
    for (int i = 0; i < 2000; ++i) {
        const ErasedBox box = draw_random_erasing(0.5, H, W, rng);
        // the documented draws: u; if u < p, per try s and log r, and on the first fit top, then left
        ErasedBox expected;
        if (replay.uniform() < 0.5)
            for (int attempt = 0; attempt < 10; ++attempt) {
                const double target = replay.uniform(0.02, 1.0 / 3.0) * double(H * W);
                const double ratio = std::exp(replay.uniform(std::log(0.3), std::log(1 / 0.3)));
                const int64_t h = std::lround(std::sqrt(target * ratio)), w = std::lround(std::sqrt(target / ratio));
                if (h < H && w < W) {
                    expected.height = h, expected.width = w;
                    expected.top = replay.randint(H - h + 1);
                    expected.left = replay.randint(W - w + 1);
                    break;
                }
            }
        REQUIRE(rng.state() == replay.state());
        CHECK(box.top == expected.top);
        CHECK(box.left == expected.left);
        CHECK(box.height == expected.height);
        CHECK(box.width == expected.width);
        if (box.height == 0) continue;
        ++erased;
        // inside the image, and h, w the roundings of sqrt(s H W r), sqrt(s H W / r) for some s in [0.02, 1/3],
        // r in [0.3, 1/0.3]: the area s H W lies in [(h - 1/2)(w - 1/2), (h + 1/2)(w + 1/2)], r in
        // [(h - 1/2) / (w + 1/2), (h + 1/2) / (w - 1/2)]
        CHECK(box.top >= 0);
        CHECK(box.left >= 0);
        CHECK(box.top + box.height <= H);
        CHECK(box.left + box.width <= W);
        const double h = double(box.height), w = double(box.width);
        CHECK((h + 0.5) * (w + 0.5) >= 0.02 * H * W);
        CHECK((h - 0.5) * (w - 0.5) <= H * W / 3.0);
        CHECK((h + 0.5) / (w - 0.5) >= 0.3);
        CHECK((h - 0.5) / (w + 0.5) <= 1 / 0.3);
        smallest = std::min(smallest, h * w / (H * W));
        largest = std::max(largest, h * w / (H * W));
        wide += box.width > box.height;
        tall += box.height > box.width;
    }
    // p = 0.5 of 2000 (binomial sd 22; a try rarely fails 10 times), spread over the whole range of areas,
    // and as many tall boxes as wide ones (log r is symmetric about 0)
    CHECK(erased > 900);
    CHECK(erased < 1100);
    CHECK(smallest < 0.04);
    CHECK(largest > 0.3);
    CHECK(std::abs(wide - tall) < 0.15 * erased);
    // probability 0: one draw, nothing erased
    const Rng::State before = rng.state();
    CHECK(draw_random_erasing(0.0, H, W, rng).height == 0);
    replay.set_state(before);
    replay.uniform();
    CHECK(rng.state() == replay.state());
}

TEST_CASE("augment: erase_box zeroes its box in every channel and nothing else, by hand") {
    // 2 x 3 x 4 image of ones, box rows 1..2, columns 2..3
    std::vector<Scalar> image(24, 1);
    erase_box(image.data(), 2, 3, 4, ErasedBox{1, 2, 2, 2});
    const std::vector<Scalar> expected = {1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0,   // channel 0
                                          1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 0};  // channel 1
    CHECK(image == expected);
    CHECK(contains(thrown_message([&] { erase_box(image.data(), 2, 3, 4, ErasedBox{2, 0, 2, 1}); }),
                   "erase_box: box of 2 x 1 at (2, 0) does not fit an image of 3 x 4"));
}

TEST_CASE("augment: the loader erases one rectangle per image after normalising, filled with 0") {
    const ImageDataset data = varied_dataset(8, 3, 16, 16);
    DataLoader loader(data, {.batch_size = 8, .normalization = identity_pixels(3), .random_erasing = 1.0});
    Rng rng(21), replay(21);
    const Batch batch = loader.batch(0, rng);
    for (int64_t b = 0; b < 8; ++b) {
        CAPTURE(b);
        const ErasedBox box = draw_random_erasing(1.0, 16, 16, replay);  // the only draws: one box per image
        CHECK(box.height > 0);  // p = 1, and a 16 x 16 image fits nearly every draw
        for (int64_t c = 0; c < 3; ++c)
            for (int64_t y = 0; y < 16; ++y)
                for (int64_t x = 0; x < 16; ++x) {
                    const bool inside = y >= box.top && y < box.top + box.height && x >= box.left &&
                                        x < box.left + box.width;
                    const double source = data.image(b)[(c * 16 + y) * 16 + x];  // the byte, as normalised
                    const double value = batch.images.data()[((b * 3 + c) * 16 + y) * 16 + x];
                    CHECK(std::abs(value - (inside ? 0.0 : source)) < 1e-9);
                }
    }
    CHECK(rng.state() == replay.state());
}

// ================================================ mixup and CutMix ======================================

TEST_CASE("augment: mixup mixes image i with image B-1-i, by hand, with the documented draws") {
    // images (3, 1, 1, 2): (1, 2), (3, 4), (5, 6); labels 0 1 2
    Batch batch;
    batch.images = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 1, 1, 2});
    batch.labels = Tensor::from_vector({0, 1, 2}, {3});
    const Tensor unmixed = batch.images;
    Rng rng(5), replay(5);
    mix_batch(batch, {.mixup_alpha = 1.0}, rng);
    // the draws: u (< 1: mixed), then lambda ~ Beta(1, 1)
    CHECK(replay.uniform() < 1.0);
    const double lambda = replay.beta(1.0, 1.0);
    CHECK(rng.state() == replay.state());
    CHECK(batch.mix_weight == lambda);
    // x_0 = lambda (1, 2) + (1 - lambda) (5, 6);  x_1 is its own partner;  x_2 = lambda (5, 6) + (1 - lambda) (1, 2)
    const double l = lambda, r = 1 - lambda;
    check_values(batch.images, {3, 1, 1, 2}, {l * 1 + r * 5, l * 2 + r * 6, 3, 4, l * 5 + r * 1, l * 6 + r * 2}, 1e-12);
    check_values(batch.mixed_labels, {3}, {2, 1, 0});
    check_values(batch.labels, {3}, {0, 1, 2});
    check_values(unmixed, {3, 1, 1, 2}, {1, 2, 3, 4, 5, 6});  // the old tensor is not written
}

TEST_CASE("augment: CutMix pastes the partner's box, and lambda is exactly the kept area fraction") {
    const int64_t B = 4, C = 2, H = 8, W = 8;
    int clipped = 0;
    for (uint64_t seed = 0; seed < 60; ++seed) {
        CAPTURE(seed);
        Batch batch = constant_batch(B, C, H, W);
        Rng rng(seed), replay(seed);
        mix_batch(batch, {.cutmix_alpha = 1.0}, rng);
        // the draws: u, lambda ~ Beta(1, 1), cy, cx; the box h x w = floor(8 sqrt(1 - lambda)) around (cy, cx)
        replay.uniform();
        const double drawn = replay.beta(1.0, 1.0);
        const int64_t cy = replay.randint(H), cx = replay.randint(W);
        CHECK(rng.state() == replay.state());
        const int64_t h = int64_t(H * std::sqrt(1 - drawn)), w = int64_t(W * std::sqrt(1 - drawn));
        const int64_t top = std::max<int64_t>(cy - h / 2, 0), bottom = std::min<int64_t>(cy - h / 2 + h, H);
        const int64_t left = std::max<int64_t>(cx - w / 2, 0), right = std::min<int64_t>(cx - w / 2 + w, W);
        clipped += (bottom - top) < h || (right - left) < w;
        // every pixel is its own image's or, inside the box, the partner's (image B - 1 - b)
        int64_t pasted = 0;
        for (int64_t b = 0; b < B; ++b)
            for (int64_t c = 0; c < C; ++c)
                for (int64_t y = 0; y < H; ++y)
                    for (int64_t x = 0; x < W; ++x) {
                        const bool inside = y >= top && y < bottom && x >= left && x < right;
                        const double own = 10 * (b + 1) + c, partner = 10 * (B - b) + c;
                        const double value = batch.images.data()[((b * C + c) * H + y) * W + x];
                        CHECK(value == (inside ? partner : own));
                        pasted += b == 0 && c == 0 && value == partner;
                    }
        // lambda: the kept fraction of image 0, counted from its pixels
        CHECK(batch.mix_weight == 1.0 - double(pasted) / double(H * W));
        check_values(batch.mixed_labels, {4}, {3, 2, 1, 0});
    }
    CHECK(clipped > 0);  // some boxes met a border, where lambda and the drawn value part ways
}

TEST_CASE("augment: with mixup and CutMix both on, switch_probability chooses, each with its own alpha") {
    for (double switch_probability : {0.0, 1.0}) {
        CAPTURE(switch_probability);
        Batch batch = constant_batch(2, 1, 4, 4);
        Rng rng(8), replay(8);
        mix_batch(batch, {.mixup_alpha = 0.4, .cutmix_alpha = 2.0, .switch_probability = switch_probability}, rng);
        replay.uniform();                                       // mixed at all
        const bool cutmix = replay.uniform() < switch_probability;  // then which
        CHECK(cutmix == (switch_probability == 1.0));
        const double drawn = replay.beta(cutmix ? 2.0 : 0.4, cutmix ? 2.0 : 0.4);
        if (cutmix) {
            replay.randint(4);
            replay.randint(4);
        }
        CHECK(rng.state() == replay.state());
        // CutMix leaves only whole pixels of 10 and 20; mixup's lambda 10 + (1 - lambda) 20 is neither
        const Scalar first = batch.images.data()[0];
        if (cutmix) CHECK((first == 10 || first == 20));
        else CHECK(first == doctest::Approx(drawn * 10 + (1 - drawn) * 20).epsilon(1e-12));
        if (!cutmix) CHECK(batch.mix_weight == drawn);
    }
}

TEST_CASE("augment: an unmixed batch is left alone, and draws one number, or none with both alphas 0") {
    Batch batch = constant_batch(3, 1, 2, 2);
    const std::vector<Scalar> before = batch.images.to_vector();
    Rng rng(3), replay(3);
    mix_batch(batch, {.mixup_alpha = 1.0, .probability = 0.0}, rng);  // u < 0 never holds
    replay.uniform();
    CHECK(rng.state() == replay.state());
    CHECK(batch.images.to_vector() == before);
    CHECK(batch.mix_weight == 1.0);
    CHECK_FALSE(batch.mixed_labels.defined());
    mix_batch(batch, {}, rng);  // both alphas 0: off
    CHECK(rng.state() == replay.state());
    CHECK(batch.images.to_vector() == before);
}

TEST_CASE("augment: mix_batch refuses bad options and bad batches with the values") {
    Batch batch = constant_batch(2, 1, 2, 2);
    Rng rng(0);
    CHECK(contains(thrown_message([&] { mix_batch(batch, {.mixup_alpha = -1}, rng); }),
                   "mix_batch: mixup_alpha -1 and cutmix_alpha 0, expected 0 (off) or more"));
    CHECK(contains(thrown_message([&] { mix_batch(batch, {.cutmix_alpha = 1, .probability = 1.5}, rng); }),
                   "probability 1.5 and switch_probability 0.5, expected each in [0, 1]"));
    Batch flat = batch;
    flat.images = Tensor::zeros({2, 4});
    CHECK(contains(thrown_message([&] { mix_batch(flat, {.mixup_alpha = 1}, rng); }),
                   "mix_batch: images (2, 4), expected (B, C, H, W)"));
    Batch short_labels = batch;
    short_labels.labels = Tensor::zeros({3});
    CHECK(contains(thrown_message([&] { mix_batch(short_labels, {.mixup_alpha = 1}, rng); }),
                   "mix_batch: labels (3,) for images (2, 1, 2, 2), expected (2,)"));
}

// ================================================ the DataLoader ========================================

TEST_CASE("augment: with the new options off the loader's batches are bit for bit those of before them") {
    const ImageDataset data = varied_dataset(13, 3, 6, 5);
    const DataLoaderOptions before{.batch_size = 5, .shuffle = true, .random_crop = true, .crop_padding = 2,
                                   .horizontal_flip = true, .normalization = cifar10_normalization()};
    // Two epochs of the loader of commit d42f6f1, before RandAugment and Random Erasing existed (crop and
    // flip only), on this data from Rng(2024): the FNV-1a hash of the bytes of every image value (float64)
    // and every index, and the Rng's next number after them.
    DataLoader loader(data, before);
    Rng rng(2024);
    uint64_t hash = 14695981039346656037ULL;
    const auto mix_in = [&](uint64_t byte) { hash = (hash ^ byte) * 1099511628211ULL; };
    for (int epoch = 0; epoch < 2; ++epoch) {
        loader.start_epoch(rng);
        for (int64_t k = 0; k < loader.batches_per_epoch(); ++k) {
            const Batch b = loader.batch(k, rng);
            for (int64_t i = 0; i < b.images.numel(); ++i) {
                const double value = b.images.data()[i];
                unsigned char bytes[8];
                std::memcpy(bytes, &value, 8);
                for (unsigned char byte : bytes) mix_in(byte);
            }
            for (int64_t n : b.indices) mix_in(uint64_t(n));
            CHECK(b.mix_weight == 1.0);
            CHECK_FALSE(b.mixed_labels.defined());
        }
    }
    CHECK(hash == 0x92f7f7e48fe9e8f5ULL);
    CHECK(rng.next_u64() == 0x119dd9d73451be5dULL);

    // and the new fields at their defaults, or with a magnitude but no ops, change nothing
    DataLoaderOptions off = before;
    off.rand_augment_ops = 0;
    off.rand_augment_magnitude = 30;
    off.random_erasing = 0;
    DataLoader a(data, before), b(data, off);
    Rng rng_a(6), rng_b(6);
    const Epoch epoch_a = run_epoch(a, rng_a), epoch_b = run_epoch(b, rng_b);
    CHECK(epoch_a.images == epoch_b.images);
    CHECK(epoch_a.indices == epoch_b.indices);
    CHECK(rng_a.state() == rng_b.state());
}

TEST_CASE("augment: the loader draws in the documented order and builds each image from its draws") {
    // order per example: RandAugment (op, sign) x n, crop dy, dx, flip, Random Erasing
    const int64_t N = 7, C = 3, H = 8, W = 8, P = 2;
    const ImageDataset data = varied_dataset(N, C, H, W);
    DataLoader loader(data, {.batch_size = 3, .shuffle = true, .random_crop = true, .crop_padding = P,
                             .horizontal_flip = true, .normalization = identity_pixels(C), .rand_augment_ops = 2,
                             .rand_augment_magnitude = 12, .random_erasing = 0.6});
    Rng rng(31), replay(31);
    loader.start_epoch(rng);
    for (int64_t i = N - 1; i > 0; --i) replay.randint(i + 1);  // Fisher-Yates: N - 1 draws
    CHECK(rng.state() == replay.state());
    for (int64_t k = 0; k < loader.batches_per_epoch(); ++k) {
        const Batch batch = loader.batch(k, rng);
        for (int64_t b = 0; b < batch.labels.numel(); ++b) {
            CAPTURE(k);
            CAPTURE(b);
            std::vector<RandAugmentStep> steps(2);
            for (RandAugmentStep& step : steps) {
                step.op = static_cast<AugmentOp>(replay.randint(14));
                step.negate = replay.randint(2) == 1;
            }
            const int64_t dy = replay.randint(2 * P + 1), dx = replay.randint(2 * P + 1);
            const bool flip = replay.randint(2) == 1;
            const ErasedBox box = draw_random_erasing(0.6, H, W, replay);
            // the image: RandAugment on the bytes, then crop and flip (black outside), then erasing
            const uint8_t* source = data.image(batch.indices[b]);
            ByteImage image{C, H, W, std::vector<uint8_t>(source, source + C * H * W)};
            rand_augment(image, steps, 12);
            for (int64_t c = 0; c < C; ++c)
                for (int64_t y = 0; y < H; ++y)
                    for (int64_t x = 0; x < W; ++x) {
                        const int64_t sy = y + dy - P, sx = (flip ? W - 1 - x : x) + dx - P;
                        const bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                        const bool erased = y >= box.top && y < box.top + box.height && x >= box.left &&
                                            x < box.left + box.width;
                        const double expected = erased ? 0.0 : inside ? image.at(c, sy, sx) : 0.0;
                        CHECK(std::abs(batch.images.data()[((b * C + c) * H + y) * W + x] - expected) < 1e-9);
                    }
        }
        CHECK(rng.state() == replay.state());
    }
}

TEST_CASE("augment: RandAugment runs on the bytes before the crop, so the padding stays black") {
    // ops = 1 at M = 30 drawing solarize (index 4), then crop (dy, dx) = (0, 0) with padding 1, on 10 20 / 30 40:
    // solarized 245 235 / 225 215; the window starts one pixel up and left: 0 0 / 0 245. Had the op come
    // after the crop, the black padding would have been solarized to 255.
    ImageDataset data = varied_dataset(1, 1, 2, 2);
    data.pixels = {10, 20, 30, 40};
    uint64_t seed = 0;
    for (;; ++seed) {
        Rng r(seed);
        const bool solarize = r.randint(14) == 4;
        r.randint(2);
        if (solarize && r.randint(3) == 0 && r.randint(3) == 0) break;
    }
    DataLoader loader(data, {.batch_size = 1, .random_crop = true, .crop_padding = 1,
                             .normalization = identity_pixels(1), .rand_augment_ops = 1, .rand_augment_magnitude = 30});
    Rng rng(seed);
    check_values(loader.batch(0, rng).images, {1, 1, 2, 2}, {0, 0, 0, 245}, 1e-9);
}

TEST_CASE("augment: with everything on, the same Rng state gives the same batches, with 1 thread or 2") {
    // 64 images of 3 x 16 x 16 = 49152 values: above the parallel threshold
    const ImageDataset data = varied_dataset(64, 3, 16, 16);
    const DataLoaderOptions options{.batch_size = 64, .shuffle = true, .random_crop = true, .horizontal_flip = true,
                                    .normalization = cifar10_normalization(), .rand_augment_ops = 2,
                                    .rand_augment_magnitude = 9, .random_erasing = 0.5};
    const MixOptions mixing{.mixup_alpha = 0.8, .cutmix_alpha = 1.0};
    DataLoader loader(data, options);
    const Epoch serial = with_threads(1, [&] {
        Rng rng(11);
        return run_epoch(loader, rng, mixing);
    });
    const Epoch parallel = with_threads(2, [&] {
        Rng rng(11);
        return run_epoch(loader, rng, mixing);
    });
    CHECK(serial.images == parallel.images);
    CHECK(serial.indices == parallel.indices);
    CHECK(serial.mix_weights == parallel.mix_weights);
    // a second run from the same state is the same; another seed differs
    Rng again(11), other(12);
    CHECK(run_epoch(loader, again, mixing).images == serial.images);
    CHECK(run_epoch(loader, other, mixing).images != serial.images);
}

TEST_CASE("augment: mirror_left_right reverses every row of every image and channel, and nothing else") {
    // (B, C, H, W) = (2, 2, 2, 3), element i = i: each row of 3 comes back reversed, in place in the tensor.
    Tensor images = Tensor::empty({2, 2, 2, 3});
    for (int64_t i = 0; i < images.numel(); ++i) images.data()[i] = static_cast<Scalar>(i);
    const Tensor mirrored = mirror_left_right(images);
    REQUIRE(mirrored.shape() == images.shape());
    const std::vector<Scalar> expected = {2,  1,  0,  5,  4,  3,  8,  7,  6,  11, 10, 9,
                                          14, 13, 12, 17, 16, 15, 20, 19, 18, 23, 22, 21};
    for (int64_t i = 0; i < mirrored.numel(); ++i) CHECK(mirrored.data()[i] == expected[i]);
    CHECK(images.data()[0] == 0);  // the input is untouched
    // Twice is the identity; one column is its own mirror image.
    const Tensor twice = mirror_left_right(mirrored);
    for (int64_t i = 0; i < images.numel(); ++i) CHECK(twice.data()[i] == images.data()[i]);
    Tensor column = Tensor::empty({1, 1, 3, 1});
    for (int64_t i = 0; i < 3; ++i) column.data()[i] = static_cast<Scalar>(7 + i);
    const Tensor column_mirrored = mirror_left_right(column);
    for (int64_t i = 0; i < 3; ++i) CHECK(column_mirrored.data()[i] == column.data()[i]);
    CHECK(contains(thrown_message([] { mirror_left_right(Tensor::empty({2, 3, 4})); }),
                   "mirror_left_right: images (2, 3, 4), expected (B, C, H, W)"));
}

TEST_CASE("augment: the loader refuses bad augmentation options with the values") {
    const ImageDataset rgb = varied_dataset(2, 3, 4, 4), two_channels = varied_dataset(2, 2, 4, 4);
    CHECK(contains(thrown_message([&] { DataLoader(rgb, {.rand_augment_ops = -1}); }),
                   "DataLoader: rand_augment_ops -1, expected 0 (off) or more"));
    CHECK(contains(thrown_message([&] { DataLoader(rgb, {.rand_augment_ops = 2, .rand_augment_magnitude = 31}); }),
                   "DataLoader: rand_augment_magnitude 31, expected 0..30"));
    CHECK(contains(thrown_message([&] { DataLoader(rgb, {.random_erasing = 1.5}); }),
                   "DataLoader: random_erasing 1.5, expected a probability in [0, 1]"));
    CHECK(contains(thrown_message([&] { DataLoader(two_channels, {.rand_augment_ops = 1}); }),
                   "RandAugment on images of shape (2, 4, 4), expected 1 (grey) or 3 (RGB) channels"));
    DataLoader(two_channels, {.random_erasing = 0.5});  // erasing needs no colour
}

TEST_CASE("docs/data.md: the stronger augmentations in the epoch loop") {
    const ImageDataset train_set = varied_dataset(300, 3, 32, 32);
    const uint64_t seed = 7;
    Rng model_rng(1);
    const Tensor logits = Tensor::normal({128, 10}, 0, 1, model_rng);
    int mixed = 0;
    DataLoader train_loader(train_set, {.batch_size = 128, .shuffle = true, .random_crop = true,
                                        .horizontal_flip = true, .normalization = cifar10_normalization(),
                                        .rand_augment_ops = 2, .rand_augment_magnitude = 9,
                                        .random_erasing = 0.25});
    const MixOptions mixing{.mixup_alpha = 0.8, .cutmix_alpha = 1.0};
    Rng data_rng(seed);
    train_loader.start_epoch(data_rng);
    for (int64_t k = 0; k < train_loader.batches_per_epoch(); ++k) {
        Batch batch = train_loader.batch(k, data_rng);
        mix_batch(batch, mixing, data_rng);          // one lambda, one partner per image: B - 1 - b
        const Tensor z = slice(logits, 0, 0, batch.labels.numel());  // the model's logits (B, 10)
        Tensor loss = cross_entropy(z, batch.labels) * Scalar(batch.mix_weight);
        if (batch.mixed_labels.defined())
            loss = loss + cross_entropy(z, batch.mixed_labels) * Scalar(1 - batch.mix_weight);
        CHECK(std::isfinite(loss.item()));
        mixed += batch.mixed_labels.defined();
    }
    CHECK(mixed == 3);  // probability 1: every batch is mixed
}
