// Fuzzer: a run's config.json (examples/cli/config.h) as `--resume` and `eval` read it: parse_json, then
// from_json and validate, and a config that passes both written again with to_json, which must read back
// the same. A std::exception (UsageError included) is a refusal; only a crash, a sanitizer report, a
// hang, a memory blow-up or a failed round trip is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <string_view>

#include "examples/cli/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace patchgrad;
    cli::TrainConfig config;
    try {
        config = cli::from_json(parse_json(std::string_view(reinterpret_cast<const char*>(data), size), "config.json"));
        cli::validate(config);
    } catch (const std::exception&) {
        return 0;
    }
    if (!(cli::to_json(cli::from_json(cli::to_json(config))) == cli::to_json(config))) std::abort();
    return 0;
}
