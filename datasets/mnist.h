#pragma once
// MNIST and Fashion-MNIST from their IDX files (the raw, decompressed files of the official downloads).
//
//   ImageDataset train = load_mnist("data/mnist", true);                        // (60000, 1, 28, 28)
//   ImageDataset test  = load_mnist("data/fashion-mnist", false, "fashion-mnist"); // (10000, 1, 28, 28)
//
// reads <dir>/train-images-idx3-ubyte and <dir>/train-labels-idx1-ubyte (train) or the t10k-* pair
// (test). `make data` puts them under data/mnist/ and data/fashion-mnist/. Every malformed file is refused
// with a std::runtime_error naming the file, what was expected and what was found. docs/data.md walks
// through the format byte by byte.
#include <string>

#include "datasets/dataset.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The largest IDX file read: MNIST's and Fashion-MNIST's training images, the largest there are, hold
// 16 + 60000 x 28 x 28 = 47,040,016 bytes. A larger file is no IDX file of theirs, and would cost more
// memory than any real one.
constexpr uint64_t kMaxIdxFileBytes = 48 << 20;

// which: "mnist" (digits 0-9) or "fashion-mnist" (T-shirt/top ... Ankle boot); only the class names and
// the messages differ, the format is the same.
ImageDataset load_mnist(const std::string& dir, bool train, const std::string& which = "mnist");

// The two halves, for a reader or a test that wants one file at a time. `loader` starts the messages.
// read_idx_images returns a dataset with pixels and shape filled in, labels and class names empty.
ImageDataset read_idx_images(const std::string& path, const std::string& loader);
std::vector<uint8_t> read_idx_labels(const std::string& path, const std::string& loader,
                                     int64_t num_classes);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
