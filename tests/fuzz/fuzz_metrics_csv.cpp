// Fuzzer: a run's metrics.csv as `patchgrad plot` and training read it (examples/cli/plot.cpp): the bytes
// are RUN_DIR/metrics.csv, and write_metrics_plot reads it and draws RUN_DIR/metrics.svg. A
// std::exception is a refusal; only a crash, a sanitizer report, a hang or a memory blow-up is a finding.
#include <cstddef>
#include <cstdint>
#include <exception>

#include "examples/cli/commands.h"
#include "tests/fuzz/fuzz_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    patchgrad::fuzz::write_input("metrics.csv", data, size);
    try {
        patchgrad::cli::write_metrics_plot(patchgrad::fuzz::scratch_dir());
    } catch (const std::exception&) {
    }
    return 0;
}
