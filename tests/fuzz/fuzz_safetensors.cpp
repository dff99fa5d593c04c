// libFuzzer's entry point for the safetensors parser. The body, fuzz_safetensors in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/safetensors/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_safetensors(data, size);
    return 0;
}
