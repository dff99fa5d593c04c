#pragma once
// For the fuzz targets of loaders that take a path (tests/fuzz/targets.cpp): the input's bytes written to a
// file of this process's own scratch folder (under /dev/shm when it exists, in memory; else build/fuzz/tmp),
// rewritten on every input; the folder is removed when the process (a fuzzer, or the tests) exits.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace patchgrad::fuzz {

// This process's scratch folder, created on first use.
inline const std::string& scratch_dir() {
    // Never destroyed, so that the exit handler below can still read it.
    static const std::string& dir = *new std::string([] {
        const std::filesystem::path base =
            std::filesystem::is_directory("/dev/shm") ? std::filesystem::path("/dev/shm") : "build/fuzz/tmp";
        const std::filesystem::path path = base / ("patchgrad-fuzz-" + std::to_string(getpid()));
        std::filesystem::create_directories(path);
        std::atexit([] {  // libFuzzer ends a timed run with exit(); a crash leaves the folder for a look
            std::error_code ignored;
            std::filesystem::remove_all(scratch_dir(), ignored);
        });
        return path.string();
    }());
    return dir;
}

// Writes `size` bytes to scratch_dir()/name (replacing it) and returns its path.
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
    const std::string path = scratch_dir() + "/" + name;
    std::FILE* file = std::fopen(path.c_str(), "wb");
    if (!file) std::abort();
    if (size != 0 && std::fwrite(data, 1, size, file) != size) std::abort();
    std::fclose(file);
    return path;
}

}  // namespace patchgrad::fuzz
