// The fuzzers' regressions (docs/reliability.md, "Fuzzing"): every file of tests/fuzz/regressions/NAME/
// goes through fuzzer NAME's own body (tests/fuzz/targets.cpp), as libFuzzer feeds it an input. Each must
// be refused (a std::exception) or accepted, never crash (`make sanitize` runs this file under
// AddressSanitizer and UndefinedBehaviorSanitizer, as the fuzzers run), and stay within the fuzzers'
// limits: 2 s, and 512 MB (-malloc_limit_mb) of growth in the process's peak resident memory. A file
// named refused-* must be refused and one named accepted-* accepted; any other name (a reproducer as
// libFuzzer names it, crash-<sha1>) only has to come through. tests/fuzz/regressions/README.md lists
// the files. In float32: the flavour the fuzzers are built in, and the only one of the command line.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include <doctest/doctest.h>

#include "tests/fuzz/targets.h"

namespace fs = std::filesystem;

namespace {

const fs::path kRegressions = "tests/fuzz/regressions";

std::string bytes_of(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The most memory this process has held at once, in bytes (Linux counts ru_maxrss in kilobytes).
int64_t peak_resident_bytes() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return int64_t{usage.ru_maxrss} * 1024;
}

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

}  // namespace

TEST_CASE("fuzz regressions: one target per fuzzer, one folder per target") {
    std::set<std::string> fuzzers, targets, folders;
    for (const auto& entry : fs::directory_iterator("tests/fuzz")) {
        const std::string file = entry.path().filename().string();
        if (starts_with(file, "fuzz_") && entry.path().extension() == ".cpp")
            fuzzers.insert(file.substr(5, file.size() - 5 - 4));  // fuzz_NAME.cpp
    }
    for (const auto& target : patchgrad::fuzz::kTargets) targets.insert(target.name);
    for (const auto& entry : fs::directory_iterator(kRegressions))
        if (entry.is_directory()) folders.insert(entry.path().filename().string());
    CHECK(fuzzers == targets);
    CHECK(folders == targets);
}

TEST_CASE("fuzz regressions: every input is refused or accepted, within 2 s and 512 MB") {
    for (const auto& target : patchgrad::fuzz::kTargets) {
        // Named, not a structured binding: doctest's CHECK_MESSAGE is a lambda, which clang < 16 cannot
        // hand a structured binding to.
        const std::string name = target.name;
        std::vector<fs::path> files;
        if (fs::is_directory(kRegressions / name))
            for (const auto& entry : fs::directory_iterator(kRegressions / name))
                if (entry.is_regular_file()) files.push_back(entry.path());
        std::sort(files.begin(), files.end());
        CHECK_MESSAGE(files.size() >= 3, (kRegressions / name).string(), " holds ", files.size(),
                      " inputs, expected a few");
        for (const fs::path& path : files) {
            const std::string bytes = bytes_of(path);
            const int64_t peak_before = peak_resident_bytes();
            const auto start = std::chrono::steady_clock::now();
            const bool accepted = target.run(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
            const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
            const int64_t growth = peak_resident_bytes() - peak_before;
            CHECK_MESSAGE(seconds < 2.0, path, " took ", seconds, " s");
            CHECK_MESSAGE(growth < (int64_t{512} << 20), path, " raised the peak memory by ", growth, " bytes");
            const std::string file = path.filename().string();
            if (starts_with(file, "refused-")) CHECK_MESSAGE(!accepted, path, " was accepted");
            if (starts_with(file, "accepted-")) CHECK_MESSAGE(accepted, path, " was refused");
        }
    }
}
