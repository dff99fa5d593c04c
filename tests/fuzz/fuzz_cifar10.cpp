// Fuzzer: a CIFAR-10 batch file (datasets/cifar10.h) as load_cifar10 reads the test set: the bytes are
// the folder's test_batch.bin. A std::exception is a refusal; only a crash, a sanitizer report, a hang or
// a memory blow-up is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "datasets/cifar10.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    fuzz::write_input("test_batch.bin", data, size);
    try {
        const ImageDataset test = load_cifar10(fuzz::scratch_dir(), false);
        (void)test.pixels.size();
    } catch (const std::exception&) {
    }
    return 0;
}
