// Fuzzer: a binary PGM or PPM image (datasets/image_file.h) as `patchgrad predict` reads it: read_pnm on
// the file, then what predict does with an image (to the model's channels, resized to its side). A
// std::exception is a refusal; only a crash, a sanitizer report, a hang or a memory blow-up is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "datasets/image_file.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    const std::string path = fuzz::write_input("image.pnm", data, size);
    try {
        const Image image = read_pnm(path);
        // Small images only: resizing a valid 65535 x 4000 raster takes a while, which is no finding.
        if (image.pixels.size() <= (size_t{1} << 16))
            for (const int64_t channels : {int64_t{1}, int64_t{3}})
                (void)resize_bilinear(convert_channels(image, channels), 32, 28).pixels.size();
    } catch (const std::exception&) {
    }
    return 0;
}
