#pragma once
// DataLoader: an ImageDataset of bytes -> batches of normalised Scalar tensors, shuffled and augmented.
//
// Legend: N examples used (after `limit`), B batch size, C channels, H rows, W columns, P crop padding.
//
//   DataLoader train_loader(train_set, {.batch_size = 128, .shuffle = true, .random_crop = true,
//                                       .horizontal_flip = true, .normalization = cifar10_normalization()});
//   Rng data_rng(seed);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//       train_loader.start_epoch(data_rng);                    // draws this epoch's order
//       for (int64_t k = 0; k < train_loader.batches_per_epoch(); ++k) {
//           Batch batch = train_loader.batch(k, data_rng);     // images (B, C, H, W), labels (B)
//           ...
//       }
//   }
//
// Reproducibility. All randomness comes from the Rng the caller passes, drawn serially in a fixed order:
//   start_epoch(rng)  resets the order to 0, 1, ..., N-1 and, when shuffling, draws a Fisher-Yates
//                     permutation from rng (N - 1 draws); without shuffling it draws nothing;
//   batch(k, rng)     for each example of batch k in batch order: crop offsets dy, dx (if random_crop),
//                     then a flip (if horizontal_flip); without augmentation it draws nothing.
// So an epoch is a pure function of the Rng state at start_epoch (when batches are taken in order
// 0, 1, 2, ...). A training run that saves the data Rng's state in its checkpoint at the end of epoch
// e - 1 and restores it on resume sees, in epoch e, exactly the permutation and the augmentation of an
// uninterrupted run. Give the loader its own Rng (not the one dropout uses) so that the model's draws
// never shift the data's. The images of a batch are assembled in parallel only after all draws are made,
// so the numbers do not depend on the thread count.
#include <array>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "datasets/dataset.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The per-channel mean and standard deviation of each training set, pixels scaled to [0, 1]: the values
// the literature and torchvision examples use. tests/test_datasets.cpp recomputes them from the real data
// when it is present. (A widely copied CIFAR-10 std, (0.2023, 0.1994, 0.2010), is the mean of per-image
// stds, not the std of the pixels; the values here are the latter.)
constexpr std::array<double, 3> kCifar10Mean = {0.4914, 0.4822, 0.4465};  // red, green, blue
constexpr std::array<double, 3> kCifar10Std = {0.2470, 0.2435, 0.2616};
constexpr double kMnistMean = 0.1307;
constexpr double kMnistStd = 0.3081;
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

// value = (pixel / 255 - mean[c]) / std[c]. Empty vectors mean no normalisation: value = pixel / 255.
struct Normalization {
    std::vector<double> mean;  // (C), e.g. kCifar10Mean
    std::vector<double> std;   // (C), every entry > 0
};
Normalization cifar10_normalization();        // kCifar10Mean, kCifar10Std
Normalization mnist_normalization();          // kMnistMean, kMnistStd
Normalization fashion_mnist_normalization();  // kFashionMnistMean, kFashionMnistStd

struct DataLoaderOptions {
    int64_t batch_size = 128;       // B; the last batch of an epoch holds the remainder (kept, not dropped)
    bool shuffle = false;           // a new order every epoch (training); off: dataset order (evaluation)
    bool random_crop = false;       // pad each side by crop_padding black pixels, cut a random H x W window
    int64_t crop_padding = 4;       // P, 4 for 32x32 CIFAR-10
    bool horizontal_flip = false;   // mirror left-right with probability 1/2 (after the crop)
    Normalization normalization = {};  // applied last; padding is black (pixel 0) before normalising
    int64_t limit = 0;              // use only the first `limit` examples; 0 (or more than N): all
};

struct Batch {
    Tensor images;                 // (B, C, H, W) normalised
    Tensor labels;                 // (B) whole numbers in [0, classes), as cross_entropy takes them
    std::vector<int64_t> indices;  // (B) which dataset examples, in batch order
};

class DataLoader {
public:
    // Keeps a pointer to `data`: the dataset must outlive the loader.
    DataLoader(const ImageDataset& data, const DataLoaderOptions& options);

    int64_t size() const { return size_; }  // N: the examples one epoch visits
    int64_t batches_per_epoch() const;      // ceil(N / B)
    const DataLoaderOptions& options() const { return options_; }

    // Begin an epoch: the order of the examples, shuffled from rng when options().shuffle.
    void start_epoch(Rng& rng);
    // Batch k of the current epoch, 0 <= k < batches_per_epoch(); augmentation draws come from rng.
    Batch batch(int64_t k, Rng& rng) const;
    // The current epoch's order: order()[i] is the dataset index of the epoch's i-th example.
    const std::vector<int64_t>& order() const { return order_; }

private:
    const ImageDataset* data_;
    DataLoaderOptions options_;
    int64_t size_;
    std::vector<int64_t> order_;                    // (N)
    std::vector<std::array<Scalar, 256>> lookup_;   // (C, 256): the normalised value of each pixel byte
    bool epoch_started_ = false;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
