// libFuzzer's entry point for the json parser. The body, fuzz_json in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/json/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_json(data, size);
    return 0;
}
