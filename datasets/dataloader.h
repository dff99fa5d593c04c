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
// One training example goes through (the stronger augmentations are in datasets/augment.h):
//   bytes (C, H, W) -> RandAugment -> crop -> flip -> normalise -> Random Erasing -> images[b]
//
// Reproducibility. All randomness comes from the Rng the caller passes, drawn serially in a fixed order:
//   start_epoch(rng)  resets the order to 0, 1, ..., N-1 and, when shuffling, draws a Fisher-Yates
//                     permutation from rng (N - 1 draws); without shuffling it draws nothing;
//   batch(k, rng)     for each example of batch k in batch order, the draws of each enabled step:
//                       1. RandAugment (rand_augment_ops = n > 0): n times an op index, then a sign
//                          (draw_rand_augment: 2 n draws);
//                       2. crop offsets dy, dx (random_crop);
//                       3. a flip (horizontal_flip);
//                       4. Random Erasing (random_erasing > 0): one uniform, and only when it erases, up
//                          to 10 tries of two uniforms and then two offsets (draw_random_erasing);
//                     a step that is off draws nothing (without augmentation batch draws nothing at all),
//                     so with the stronger augmentations off the draws are exactly crop's and flip's;
//   mix_batch(batch, options, rng)  (datasets/augment.h), when the training loop mixes a batch, draws
//                     after that batch's draws: its order is documented there.
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
    Normalization normalization = {};  // padding is black (pixel 0) before normalising
    int64_t limit = 0;              // use only the first `limit` examples; 0 (or more than N): all
    // The stronger augmentations (datasets/augment.h), all off by default. They are last here so that
    // existing designated initialisers stay valid; in the pipeline RandAugment comes first, erasing last.
    int rand_augment_ops = 0;        // RandAugment's N: ops per image on the bytes, before the crop; e.g. 2
    int rand_augment_magnitude = 9;  // RandAugment's M, 0..30: every op's strength (30: the strongest)
    double random_erasing = 0;       // the probability of erasing one rectangle after normalising; e.g. 0.25
};

// A batch as the loader makes it has mix_weight 1 and no mixed_labels. After mix_batch (datasets/augment.h)
// image b is a mix of examples indices[b] and indices[B - 1 - b], and the loss of logits z (B, classes) is
//   mix_weight * CE(z, labels) + (1 - mix_weight) * CE(z, mixed_labels)
// (which is CE(z, labels) when the batch was not mixed).
struct Batch {
    Tensor images;                 // (B, C, H, W) normalised
    Tensor labels;                 // (B) whole numbers in [0, classes), as cross_entropy takes them
    std::vector<int64_t> indices;  // (B) which dataset examples, in batch order
    Tensor mixed_labels;           // (B) the labels of each image's mixing partner; undefined when not mixed
    double mix_weight = 1.0;       // lambda in [0, 1]: the weight of `labels` in the loss
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
