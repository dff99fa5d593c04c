// libFuzzer's entry point for the cifar10_meta parser. The body, fuzz_cifar10_meta in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/cifar10_meta/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_cifar10_meta(data, size);
    return 0;
}
