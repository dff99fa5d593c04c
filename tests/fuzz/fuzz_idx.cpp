// libFuzzer's entry point for the idx parser. The body, fuzz_idx in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/idx/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_idx(data, size);
    return 0;
}
