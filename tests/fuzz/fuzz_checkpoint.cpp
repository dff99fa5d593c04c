// libFuzzer's entry point for the checkpoint parser. The body, fuzz_checkpoint in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/checkpoint/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_checkpoint(data, size);
    return 0;
}
