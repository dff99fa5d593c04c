#pragma once
// ImageDataset: a whole image dataset in memory, exactly as stored on disk (bytes 0..255), plus the one
// helper every loader shares: read a file whole, or say how to get it.
//
// Legend: N examples, C channels (1 grey, 3 RGB), H rows, W columns.
//   pixels (N, C, H, W) row-major uint8:  pixel (n, c, y, x) sits at ((n * C + c) * H + y) * W + x
//   labels (N) uint8 in [0, class_names.size())
// MNIST is (60000, 1, 28, 28) for training; CIFAR-10 is (50000, 3, 32, 32). Keeping bytes rather than
// floats keeps CIFAR-10's training set at 150 MB instead of 600 MB; the DataLoader (datasets/dataloader.h)
// turns the bytes of one batch at a time into normalised Scalars. docs/data.md explains the file formats.
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/io/atomic_file.h"
#include "core/check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

struct ImageDataset {
    int64_t count = 0;     // N, e.g. 50000
    int64_t channels = 0;  // C, e.g. 3
    int64_t height = 0;    // H, e.g. 32
    int64_t width = 0;     // W, e.g. 32
    std::vector<uint8_t> pixels;           // (N, C, H, W) row-major
    std::vector<uint8_t> labels;           // (N)
    std::vector<std::string> class_names;  // label k is class_names[k], e.g. "frog" for CIFAR-10's 6

    int64_t image_size() const { return channels * height * width; }  // C * H * W bytes per example
    int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
    const uint8_t* image(int64_t n) const { return pixels.data() + n * image_size(); }  // (C, H, W)
};

// The bytes of the file at `path`, all of them (read_file_bytes: a regular file of at most `max_bytes`,
// the format's cap: kMaxCifar10BatchBytes, kMaxIdxFileBytes). `loader` ("mnist", "cifar10", ...) starts
// every message. A missing file is the usual first-run mistake, so its message says how to get the data.
inline std::vector<uint8_t> read_binary_file(const std::string& path, const std::string& loader, uint64_t max_bytes) {
    check_io(std::filesystem::exists(path), loader, ": ", path,
             ": file not found; run `make data` at the repository root to fetch the datasets into data/ "
             "(see docs/data.md)");
    try {
        return read_file_bytes(path, max_bytes);
    } catch (const std::runtime_error& error) {
        throw std::runtime_error(loader + ": " + error.what());
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
