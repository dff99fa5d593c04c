#include "datasets/mnist.h"

#include <sstream>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// IDX (LeCun et al., the MNIST home page), every integer big-endian:
//
//   images  offset 0   int32 magic 0x00000803   bytes 0,0 then 0x08 (unsigned bytes) and 0x03 (3 dims)
//                  4   int32 count N
//                  8   int32 rows H
//                  12  int32 cols W
//                  16  N * H * W unsigned bytes, image after image, row after row (0 white .. 255 ink)
//   labels  offset 0   int32 magic 0x00000801   (unsigned bytes, 1 dim)
//                  4   int32 count N
//                  8   N unsigned bytes, each a class 0..9
//
// Every header field is checked against the file's real size before anything is allocated or indexed.

constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int64_t kImagesHeader = 16;
constexpr int64_t kLabelsHeader = 8;
// IDX images are small; a larger side is a corrupt header. The bound also keeps N * H * W below 2^63.
constexpr int64_t kMaxSide = 65535;

// The big-endian 32-bit integer at bytes[offset .. offset+3]; the caller has checked the size.
static uint32_t read_u32_be(const std::vector<uint8_t>& bytes, int64_t offset) {
    return (uint32_t(bytes[offset]) << 24) | (uint32_t(bytes[offset + 1]) << 16) |
           (uint32_t(bytes[offset + 2]) << 8) | uint32_t(bytes[offset + 3]);
}

// IDX sizes are signed int32: 0x80000000 and above are negative, hence invalid.
static int64_t read_i32_be(const std::vector<uint8_t>& bytes, int64_t offset) {
    return static_cast<int64_t>(static_cast<int32_t>(read_u32_be(bytes, offset)));
}

static std::string hex(uint32_t value) {
    std::ostringstream os;
    os << "0x" << std::hex << value;
    return os.str();
}

ImageDataset read_idx_images(const std::string& path, const std::string& loader) {
    std::vector<uint8_t> bytes = read_binary_file(path, loader, kMaxIdxFileBytes);
    const auto size = static_cast<int64_t>(bytes.size());
    check_io(size >= kImagesHeader, loader, ": ", path, ": truncated: the file has ", size,
             " bytes, expected at least the ", kImagesHeader, "-byte IDX image header");
    const uint32_t magic = read_u32_be(bytes, 0);
    check_io(magic == kImagesMagic, loader, ": ", path, ": magic ", hex(magic), ", expected ",
             hex(kImagesMagic), " (IDX unsigned-byte images, 3 dimensions)");
    const int64_t count = read_i32_be(bytes, 4);
    const int64_t rows = read_i32_be(bytes, 8);
    const int64_t cols = read_i32_be(bytes, 12);
    check_io(count >= 0, loader, ": ", path, ": image count ", count, ", expected 0 or more");
    check_io(rows >= 1 && rows <= kMaxSide, loader, ": ", path, ": rows ", rows,
             ", expected 1..", kMaxSide, " (28 for MNIST)");
    check_io(cols >= 1 && cols <= kMaxSide, loader, ": ", path, ": cols ", cols,
             ", expected 1..", kMaxSide, " (28 for MNIST)");
    // count < 2^31 and rows * cols < 2^32, so the product fits in int64.
    const int64_t expected = kImagesHeader + count * rows * cols;
    check_io(size >= expected, loader, ": ", path, ": truncated: header says ", count, " images of ", rows,
             "x", cols, ", which needs ", expected, " bytes, but the file has ", size, " bytes");
    check_io(size <= expected, loader, ": ", path, ": trailing bytes: header says ", count, " images of ",
             rows, "x", cols, ", which needs ", expected, " bytes, but the file has ", size, " bytes");

    ImageDataset data;
    data.count = count;
    data.channels = 1;
    data.height = rows;
    data.width = cols;
    // (N, 1, H, W): already the file's order. The header is erased from the bytes, which become the
    // pixels: the images cost the file's size once, not twice.
    bytes.erase(bytes.begin(), bytes.begin() + kImagesHeader);
    data.pixels = std::move(bytes);
    return data;
}

std::vector<uint8_t> read_idx_labels(const std::string& path, const std::string& loader,
                                     int64_t num_classes) {
    const std::vector<uint8_t> bytes = read_binary_file(path, loader, kMaxIdxFileBytes);
    const auto size = static_cast<int64_t>(bytes.size());
    check_io(size >= kLabelsHeader, loader, ": ", path, ": truncated: the file has ", size,
             " bytes, expected at least the ", kLabelsHeader, "-byte IDX label header");
    const uint32_t magic = read_u32_be(bytes, 0);
    check_io(magic == kLabelsMagic, loader, ": ", path, ": magic ", hex(magic), ", expected ",
             hex(kLabelsMagic), " (IDX unsigned-byte labels, 1 dimension)");
    const int64_t count = read_i32_be(bytes, 4);
    check_io(count >= 0, loader, ": ", path, ": label count ", count, ", expected 0 or more");
    const int64_t expected = kLabelsHeader + count;
    check_io(size >= expected, loader, ": ", path, ": truncated: header says ", count,
             " labels, which needs ", expected, " bytes, but the file has ", size, " bytes");
    check_io(size <= expected, loader, ": ", path, ": trailing bytes: header says ", count,
             " labels, which needs ", expected, " bytes, but the file has ", size, " bytes");

    std::vector<uint8_t> labels(bytes.begin() + kLabelsHeader, bytes.end());  // (N)
    for (int64_t n = 0; n < count; ++n)
        check_io(labels[n] < num_classes, loader, ": ", path, ": label ", int(labels[n]), " at index ", n,
                 ", expected 0..", num_classes - 1);
    return labels;
}

ImageDataset load_mnist(const std::string& dir, bool train, const std::string& which) {
    std::vector<std::string> class_names;
    if (which == "mnist")
        class_names = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    else if (which == "fashion-mnist")
        class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                       "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
    check(!class_names.empty(), "load_mnist: which is \"", which, "\", expected \"mnist\" or \"fashion-mnist\"");

    const std::string prefix = dir + "/" + (train ? "train" : "t10k");
    const std::string images_path = prefix + "-images-idx3-ubyte";
    const std::string labels_path = prefix + "-labels-idx1-ubyte";
    ImageDataset data = read_idx_images(images_path, which);
    data.labels = read_idx_labels(labels_path, which, static_cast<int64_t>(class_names.size()));
    check_io(static_cast<int64_t>(data.labels.size()) == data.count, which, ": ", images_path, " has ",
             data.count, " images but ", labels_path, " has ", data.labels.size(),
             " labels, expected the same count");
    data.class_names = std::move(class_names);
    return data;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
