// libFuzzer's entry point for the metrics_csv parser. The body, fuzz_metrics_csv in tests/fuzz/targets.cpp,
// also replays tests/fuzz/regressions/metrics_csv/ in `make test`.
#include "tests/fuzz/targets.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::fuzz_metrics_csv(data, size);
    return 0;
}
