#pragma once
// The fuzzers' bodies: one function per file parser, each taking the bytes of one input as the program
// would read them from a file. Two callers run the very same code: the libFuzzer programs
// (tests/fuzz/fuzz_NAME.cpp, `make fuzz`) and the replay of tests/fuzz/regressions/NAME/ inside `make
// test` (tests/f32/test_fuzz_regressions.cpp). Built in the float32 flavour, as the program trains.
//
// Inside a target, a thrown std::exception is a refusal, the right answer to a malformed file: the
// target returns false. It returns true when the parser accepted the input. A finding is a crash, a
// sanitizer report, a hang, a memory blow-up, or a broken promise about what was accepted (a JSON
// document that does not parse back equal): that one prints what broke and aborts, the way libFuzzer
// and the test binary both notice.
#include <cstddef>
#include <cstdint>

namespace patchgrad::fuzz {

using Target = bool (*)(const uint8_t* data, size_t size);

bool fuzz_safetensors(const uint8_t* data, size_t size);
bool fuzz_json(const uint8_t* data, size_t size);
bool fuzz_config_json(const uint8_t* data, size_t size);
bool fuzz_checkpoint(const uint8_t* data, size_t size);
bool fuzz_idx(const uint8_t* data, size_t size);
bool fuzz_cifar10(const uint8_t* data, size_t size);
bool fuzz_cifar10_meta(const uint8_t* data, size_t size);
bool fuzz_pnm(const uint8_t* data, size_t size);
bool fuzz_metrics_csv(const uint8_t* data, size_t size);

// Every target under its fuzzer's name: fuzz_NAME.cpp, build/fuzz/fuzz_NAME, tests/fuzz/regressions/NAME/.
struct NamedTarget {
    const char* name;
    Target run;
};
inline constexpr NamedTarget kTargets[] = {
    {"safetensors", fuzz_safetensors}, {"json", fuzz_json},     {"config_json", fuzz_config_json},
    {"checkpoint", fuzz_checkpoint},   {"idx", fuzz_idx},       {"cifar10", fuzz_cifar10},
    {"cifar10_meta", fuzz_cifar10_meta}, {"pnm", fuzz_pnm},     {"metrics_csv", fuzz_metrics_csv},
};

}  // namespace patchgrad::fuzz
