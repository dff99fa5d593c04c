#include "datasets/cifar10.h"

#include <algorithm>
#include <filesystem>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// The binary version of CIFAR-10 (Krizhevsky, 2009) has no header at all. A batch file is records of
// 3073 bytes, one after another:
//
//   byte 0            the label, 0..9
//   bytes 1..1024     red   channel, 32 rows of 32, row-major
//   bytes 1025..2048  green channel
//   bytes 2049..3072  blue  channel
//
// The official batches hold 10000 records (30,730,000 bytes). With no header to contradict, the only
// structural check is that the size is a whole number of records; then every label byte is checked.

constexpr int64_t kChannels = 3;
constexpr int64_t kSide = 32;
constexpr int64_t kImageBytes = kChannels * kSide * kSide;  // 3072
constexpr int64_t kRecordBytes = 1 + kImageBytes;           // 3073

void read_cifar10_batch(const std::string& path, ImageDataset& data) {
    const std::vector<uint8_t> bytes = read_binary_file(path, "cifar10", kMaxCifar10BatchBytes);
    const auto size = static_cast<int64_t>(bytes.size());
    check_io(size > 0 && size % kRecordBytes == 0, "cifar10: ", path, ": size ", size,
             " bytes, expected a positive multiple of ", kRecordBytes, " (1 label byte + 3x32x32 pixels); ",
             size / kRecordBytes, " whole records and ", size % kRecordBytes, " bytes left over");
    const int64_t records = size / kRecordBytes;

    const int64_t first = data.count;  // records are appended after what earlier batches loaded
    data.pixels.resize(static_cast<size_t>((first + records) * kImageBytes));
    data.labels.resize(static_cast<size_t>(first + records));
    for (int64_t r = 0; r < records; ++r) {
        const uint8_t* record = bytes.data() + r * kRecordBytes;
        check_io(record[0] < 10, "cifar10: ", path, ": label ", int(record[0]), " at record ", r,
                 ", expected 0..9");
        data.labels[first + r] = record[0];
        // The pixels are already (C, H, W): red plane, green plane, blue plane.
        std::copy(record + 1, record + kRecordBytes, data.pixels.begin() + (first + r) * kImageBytes);
    }
    data.count = first + records;
}

// batches.meta.txt: one class name per line, in label order, then blank lines.
std::vector<std::string> parse_cifar10_class_names(std::string_view text, const std::string& path) {
    std::vector<std::string> names;
    for (size_t start = 0; start < text.size();) {
        const size_t end = std::min(text.find('\n', start), text.size());
        std::string_view line = text.substr(start, end - start);
        start = end + 1;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
        if (line.empty()) continue;
        check_io(names.size() < 10, "cifar10: ", path, ": more than 10 class names, expected 10 (one per line)");
        names.emplace_back(line);
    }
    check_io(names.size() == 10, "cifar10: ", path, ": ", names.size(),
             " class names, expected 10 (one per line)");
    return names;
}

static std::vector<std::string> read_class_names(const std::string& path) {
    return parse_cifar10_class_names(read_file(path, kMaxCifar10MetaBytes), path);
}

ImageDataset load_cifar10(const std::string& dir, bool train) {
    ImageDataset data;
    data.channels = kChannels;
    data.height = kSide;
    data.width = kSide;
    if (train) {
        for (int b = 1; b <= 5; ++b) read_cifar10_batch(dir + "/data_batch_" + std::to_string(b) + ".bin", data);
    } else {
        read_cifar10_batch(dir + "/test_batch.bin", data);
    }
    const std::string meta = dir + "/batches.meta.txt";
    if (std::filesystem::exists(meta))
        data.class_names = read_class_names(meta);
    else
        data.class_names.assign(kCifar10Classes.begin(), kCifar10Classes.end());
    return data;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
