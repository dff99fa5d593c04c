#pragma once
// CIFAR-10 from its binary version (cifar-10-binary.tar.gz, unpacked into cifar-10-batches-bin/).
//
//   ImageDataset train = load_cifar10("data/cifar-10-batches-bin", true);   // (50000, 3, 32, 32)
//   ImageDataset test  = load_cifar10("data/cifar-10-batches-bin", false);  // (10000, 3, 32, 32)
//
// Training reads data_batch_1.bin .. data_batch_5.bin in that order, the test set test_batch.bin. Class
// names come from batches.meta.txt when it is there, else from the built-in list (kCifar10Classes).
// Every malformed file is refused with a std::runtime_error naming the file, what was expected and what
// was found. docs/data.md walks through the format byte by byte.
#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "datasets/dataset.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// In label order, as in batches.meta.txt.
inline const std::array<const char*, 10> kCifar10Classes = {
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};

ImageDataset load_cifar10(const std::string& dir, bool train);

// The largest batch file read: 10000 records of 3073 bytes, as every official batch holds. A larger file is
// not CIFAR-10 (and would cost more memory than a real batch does: its bytes and then its images).
constexpr uint64_t kMaxCifar10BatchBytes = 10000 * 3073;
// The largest batches.meta.txt read: the real one is 61 bytes (ten names and blank lines).
constexpr uint64_t kMaxCifar10MetaBytes = 64 << 10;

// One batch file: a whole number of 3073-byte records, at most 10000. Appends to `data` (whose shape is
// 3x32x32).
void read_cifar10_batch(const std::string& path, ImageDataset& data);

// The text of batches.meta.txt: one class name per line, in label order, then blank lines; a line's
// trailing spaces and '\r' are dropped. Exactly 10 names, else std::runtime_error naming `path` (refused
// at the eleventh).
std::vector<std::string> parse_cifar10_class_names(std::string_view text, const std::string& path);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
