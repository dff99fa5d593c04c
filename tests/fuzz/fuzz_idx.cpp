// Fuzzer: an IDX file of MNIST or Fashion-MNIST (datasets/mnist.h), read both as images and as labels,
// through the loaders' own path-based readers. A std::exception is a refusal; only a crash, a sanitizer
// report, a hang or a memory blow-up is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "datasets/mnist.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    const std::string path = fuzz::write_input("train-images-idx3-ubyte", data, size);
    try {
        const ImageDataset images = read_idx_images(path, "mnist");
        (void)images.pixels.size();
    } catch (const std::exception&) {
    }
    try {
        (void)read_idx_labels(path, "mnist", 10);
    } catch (const std::exception&) {
    }
    return 0;
}
