#pragma once
// Helpers for tests that read files: a temporary directory that cleans up after itself, and the bytes of
// binary formats written by hand.
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <doctest/doctest.h>

namespace patchgrad::testing {

// A fresh directory under the system's temporary directory, removed with everything in it at scope exit.
struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& prefix = "patchgrad_test") {
        static std::atomic<int> counter{0};
        path = std::filesystem::temp_directory_path() /
               (prefix + "_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
        std::filesystem::remove_all(path);
        std::filesystem::create_directories(path);
    }
    ~TempDir() {
        std::error_code ignored;
        std::filesystem::remove_all(path, ignored);
    }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    std::string file(const std::string& name) const { return (path / name).string(); }
    std::string str() const { return path.string(); }
};

inline void write_bytes(const std::string& path, const std::vector<uint8_t>& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// IDX headers are big-endian 32-bit integers.
inline void append_u32_be(std::vector<uint8_t>& bytes, uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(static_cast<uint8_t>(value >> shift));
}

// An IDX image file (MNIST's format): magic, count, rows, cols (big-endian int32), then the pixel bytes as
// given. The counts are written as given, so a test can make them disagree with the pixels.
inline std::vector<uint8_t> idx_images(uint32_t count, uint32_t rows, uint32_t cols, const std::vector<uint8_t>& pixels,
                                       uint32_t magic = 0x803) {
    std::vector<uint8_t> bytes;
    append_u32_be(bytes, magic);
    append_u32_be(bytes, count);
    append_u32_be(bytes, rows);
    append_u32_be(bytes, cols);
    bytes.insert(bytes.end(), pixels.begin(), pixels.end());
    return bytes;
}

// An IDX label file: magic, count (big-endian int32), then one byte per label.
inline std::vector<uint8_t> idx_labels(uint32_t count, const std::vector<uint8_t>& labels, uint32_t magic = 0x801) {
    std::vector<uint8_t> bytes;
    append_u32_be(bytes, magic);
    append_u32_be(bytes, count);
    bytes.insert(bytes.end(), labels.begin(), labels.end());
    return bytes;
}

}  // namespace patchgrad::testing
