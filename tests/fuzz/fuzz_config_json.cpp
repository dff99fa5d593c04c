// libFuzzer's entry point for the config_json parser. The body, fuzz_config_json in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/config_json/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_config_json(data, size);
    return 0;
}
