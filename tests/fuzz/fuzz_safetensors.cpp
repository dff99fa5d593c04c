// Fuzzer: a safetensors file (core/io/safetensors.h), header and data, as load_safetensors decodes it.
// A std::exception is a refusal, the expected answer to a malformed file; only a crash, a sanitizer
// report, a hang or a memory blow-up is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string_view>

#include "core/io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    try {
        const SafetensorsFile file = decode_safetensors(std::string_view(reinterpret_cast<const char*>(data), size));
        // What a reader does next: look each tensor up by name and its metadata by key.
        for (const auto& [name, tensor] : file.tensors) (void)file.tensor(name).numel();
        (void)file.find_metadata(kChecksumKey);
    } catch (const std::exception&) {
    }
    return 0;
}
