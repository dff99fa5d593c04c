#include "datasets/split.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "core/check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// The examples `indices` of `data`, in that order, as a dataset of their own.
ImageDataset subset(const ImageDataset& data, const std::vector<int64_t>& indices) {
    ImageDataset part;
    part.count = static_cast<int64_t>(indices.size());
    part.channels = data.channels;
    part.height = data.height;
    part.width = data.width;
    part.class_names = data.class_names;
    const int64_t size = data.image_size();
    part.pixels.resize(static_cast<size_t>(part.count * size));
    part.labels.resize(static_cast<size_t>(part.count));
    for (int64_t i = 0; i < part.count; ++i) {
        const int64_t n = indices[static_cast<size_t>(i)];
        std::copy_n(data.image(n), size, part.pixels.begin() + i * size);
        part.labels[static_cast<size_t>(i)] = data.labels[static_cast<size_t>(n)];
    }
    return part;
}

}  // namespace

TrainValidationSplit split_validation(const ImageDataset& data, int64_t count, Rng& rng) {
    check(count >= 0 && count < data.count, "split_validation: the validation split must hold 0 to ",
                   data.count - 1, " of the ", data.count, " training images (at least one must stay to train on), got ",
                   count);
    // The first `count` steps of a Fisher-Yates shuffle: position i receives a uniform pick of those left.
    std::vector<int64_t> order(static_cast<size_t>(data.count));  // (N)
    std::iota(order.begin(), order.end(), int64_t{0});
    for (int64_t i = 0; i < count; ++i)
        std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(i + rng.randint(data.count - i))]);
    std::vector<int64_t> held(order.begin(), order.begin() + count), kept(order.begin() + count, order.end());
    std::sort(held.begin(), held.end());
    std::sort(kept.begin(), kept.end());
    return {subset(data, kept), subset(data, held)};
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
