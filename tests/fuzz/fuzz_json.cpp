// Fuzzer: JSON text (core/io/json.h) through parse_json, and what it accepts written again with dump(),
// which must parse back to an equal value. A std::exception is a refusal; only a crash, a sanitizer
// report, a hang, a memory blow-up or a failed round trip is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "core/io/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    Json value;
    try {
        value = parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    } catch (const std::exception&) {
        return 0;
    }
    // An accepted document holds only finite numbers and valid UTF-8, so dump() must not throw.
    if (!(parse_json(value.dump()) == value)) std::abort();
    if (!(parse_json(value.dump(2)) == value)) std::abort();
    return 0;
}
