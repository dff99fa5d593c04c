#include "datasets/dataloader.h"

#include <algorithm>

#include "core/parallel.h"
#include "datasets/augment.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

Normalization cifar10_normalization() {
    return {{kCifar10Mean.begin(), kCifar10Mean.end()}, {kCifar10Std.begin(), kCifar10Std.end()}};
}
Normalization mnist_normalization() { return {{kMnistMean}, {kMnistStd}}; }
Normalization fashion_mnist_normalization() { return {{kFashionMnistMean}, {kFashionMnistStd}}; }

DataLoader::DataLoader(const ImageDataset& data, const DataLoaderOptions& options)
    : data_(&data), options_(options) {
    const int64_t C = data.channels, H = data.height, W = data.width;
    check(data.count >= 0 && C >= 1 && H >= 1 && W >= 1, "DataLoader: dataset of ", data.count,
          " examples of shape ", Shape{C, H, W}, ", expected positive channels, height and width");
    check(static_cast<int64_t>(data.pixels.size()) == data.count * C * H * W, "DataLoader: dataset has ",
          data.pixels.size(), " pixel bytes, expected ", data.count, " x ", Shape{C, H, W}, " = ",
          data.count * C * H * W);
    check(static_cast<int64_t>(data.labels.size()) == data.count, "DataLoader: dataset has ",
          data.labels.size(), " labels, expected one per example: ", data.count);
    check(options.batch_size >= 1, "DataLoader: batch_size ", options.batch_size, ", expected 1 or more");
    check(options.crop_padding >= 0, "DataLoader: crop_padding ", options.crop_padding,
          ", expected 0 or more");
    check(options.limit >= 0, "DataLoader: limit ", options.limit, ", expected 0 (all) or more");
    const Normalization& norm = options.normalization;
    check(norm.mean.size() == norm.std.size() && (norm.mean.empty() || static_cast<int64_t>(norm.mean.size()) == C),
          "DataLoader: normalization has ", norm.mean.size(), " means and ", norm.std.size(),
          " stds, expected ", C, " of each (one per channel) or none");
    for (double s : norm.std) check(s > 0, "DataLoader: normalization std ", s, ", expected > 0");
    check(options.rand_augment_ops >= 0, "DataLoader: rand_augment_ops ", options.rand_augment_ops,
          ", expected 0 (off) or more");
    check(options.rand_augment_magnitude >= 0 && options.rand_augment_magnitude <= kMaxMagnitude,
          "DataLoader: rand_augment_magnitude ", options.rand_augment_magnitude, ", expected 0..", kMaxMagnitude);
    check(options.rand_augment_ops == 0 || C == 1 || C == 3, "DataLoader: RandAugment on images of shape ",
          Shape{C, H, W}, ", expected 1 (grey) or 3 (RGB) channels");
    check(options.random_erasing >= 0 && options.random_erasing <= 1, "DataLoader: random_erasing ",
          options.random_erasing, ", expected a probability in [0, 1]");

    size_ = options.limit > 0 ? std::min(options.limit, data.count) : data.count;
    order_.resize(size_);
    for (int64_t i = 0; i < size_; ++i) order_[i] = i;

    // Every pixel is one of 256 bytes, so its normalised value per channel is one table look-up.
    lookup_.resize(C);
    for (int64_t c = 0; c < C; ++c) {
        const double mean = norm.mean.empty() ? 0.0 : norm.mean[c];
        const double std = norm.std.empty() ? 1.0 : norm.std[c];
        for (int p = 0; p < 256; ++p) lookup_[c][p] = static_cast<Scalar>((p / 255.0 - mean) / std);
    }
}

int64_t DataLoader::batches_per_epoch() const {
    return (size_ + options_.batch_size - 1) / options_.batch_size;
}

// Fisher-Yates from the identity, so the order depends on rng's state alone, never on the last epoch:
// for i = N-1 down to 1, swap position i with a uniform position j in [0, i]. Every one of the N!
// orders is equally likely.
void DataLoader::start_epoch(Rng& rng) {
    for (int64_t i = 0; i < size_; ++i) order_[i] = i;
    if (options_.shuffle)
        for (int64_t i = size_ - 1; i > 0; --i) std::swap(order_[i], order_[rng.randint(i + 1)]);
    epoch_started_ = true;
}

// images (B, C, H, W), labels (B).  For example b with source image src (C, H, W):
//   RandAugment: src is replaced by a copy with the example's ops applied (augment.h), when enabled
//   crop:  out[c, y, x] = padded[c, y + dy, x + dx]   padded (C, H + 2P, W + 2P), src at offset (P, P),
//          dy, dx uniform in [0, 2P]; without random_crop dy = dx = P, the identity window
//          so out[c, y, x] = src[c, y + dy - P, x + dx - P] when inside src, else black (pixel 0)
//   flip:  x is read as W - 1 - x, mirroring the cropped window
//   value: lookup_[c][pixel] = (pixel / 255 - mean[c]) / std[c]
//   erase: the example's ErasedBox set to 0 in every channel, when enabled
Batch DataLoader::batch(int64_t k, Rng& rng) const {
    const int64_t num_batches = batches_per_epoch();
    check(k >= 0 && k < num_batches, "DataLoader::batch: index ", k, ", expected 0..", num_batches - 1,
          " (", size_, " examples in batches of ", options_.batch_size, ")");
    check(epoch_started_ || !options_.shuffle,
          "DataLoader::batch: shuffle is on but start_epoch(rng) was never called to draw the order");
    const int64_t C = data_->channels, H = data_->height, W = data_->width, P = options_.crop_padding;
    const int64_t begin = k * options_.batch_size;
    const int64_t B = std::min(options_.batch_size, size_ - begin);

    // 1. Every random draw, serially, in batch order and in the order of dataloader.h: the stream is the
    //    same with 1 thread or 64.
    struct Augmentation {
        std::vector<RandAugmentStep> rand_augment;  // empty: no RandAugment
        int64_t dy, dx;                             // the window's top-left corner in padded coordinates
        bool flip;
        ErasedBox erased;                           // 0 x 0: nothing erased
    };
    std::vector<Augmentation> augment(B, Augmentation{{}, P, P, false, {}});  // (B): identity by default
    for (int64_t b = 0; b < B; ++b) {
        if (options_.rand_augment_ops > 0) augment[b].rand_augment = draw_rand_augment(options_.rand_augment_ops, rng);
        if (options_.random_crop) {
            augment[b].dy = rng.randint(2 * P + 1);
            augment[b].dx = rng.randint(2 * P + 1);
        }
        if (options_.horizontal_flip) augment[b].flip = rng.randint(2) == 1;
        if (options_.random_erasing > 0) augment[b].erased = draw_random_erasing(options_.random_erasing, H, W, rng);
    }

    // 2. Assembly: no randomness left, so the examples can be filled in parallel.
    Batch out;
    out.images = Tensor::empty({B, C, H, W});
    out.labels = Tensor::empty({B});
    out.indices.resize(B);
    Scalar* images = out.images.data();  // (B, C, H, W)
    Scalar* labels = out.labels.data();  // (B)
#pragma omp parallel for if (B * C * H * W >= kParallelElements)  // iteration b owns images[b] and labels[b]
    for (int64_t b = 0; b < B; ++b) {
        const int64_t n = order_[begin + b];
        const Augmentation& a = augment[b];
        const uint8_t* src = data_->image(n);  // (C, H, W)
        ByteImage augmented;                   // (C, H, W): src after RandAugment, owned by this iteration
        if (!a.rand_augment.empty()) {
            augmented = ByteImage{C, H, W, std::vector<uint8_t>(src, src + C * H * W)};
            rand_augment(augmented, a.rand_augment, options_.rand_augment_magnitude);
            src = augmented.pixels.data();
        }
        for (int64_t c = 0; c < C; ++c) {
            const Scalar* to_value = lookup_[c].data();
            Scalar* dst = images + ((b * C + c) * H) * W;  // (H, W)
            for (int64_t y = 0; y < H; ++y) {
                const int64_t sy = y + a.dy - P;  // source row
                for (int64_t x = 0; x < W; ++x) {
                    const int64_t sx = (a.flip ? W - 1 - x : x) + a.dx - P;  // source column
                    const bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
                    dst[y * W + x] = to_value[inside ? src[(c * H + sy) * W + sx] : 0];
                }
            }
        }
        erase_box(images + b * C * H * W, C, H, W, a.erased);
        labels[b] = static_cast<Scalar>(data_->labels[n]);
        out.indices[b] = n;
    }
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
