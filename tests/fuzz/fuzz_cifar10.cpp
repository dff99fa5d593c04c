// libFuzzer's entry point for the cifar10 parser. The body, fuzz_cifar10 in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/cifar10/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_cifar10(data, size);
    return 0;
}
