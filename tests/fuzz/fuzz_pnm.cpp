// libFuzzer's entry point for the pnm parser. The body, fuzz_pnm in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/pnm/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_pnm(data, size);
    return 0;
}
