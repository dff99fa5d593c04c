// Files made to hurt the reader: crafted headers that cost quadratic time or unbounded memory, special
// files (a FIFO, /dev/zero) in place of a checkpoint, and links planted where a file is about to be
// written. Each must be refused (or read) quickly, in bounded memory, with one line naming the path.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using patchgrad::testing::TempDir;

namespace {

double seconds_to_run(const auto& work) {
    const auto start = std::chrono::steady_clock::now();
    work();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// A safetensors file of one tensor "t" with the given header fields and `data_bytes` zero bytes of data.
std::string safetensors_bytes(const std::string& header_text, size_t data_bytes) {
    std::string header = header_text;
    header.append((8 - header.size() % 8) % 8, ' ');
    std::string file;
    for (int i = 0; i < 8; ++i) file += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    return file + header + std::string(data_bytes, '\0');
}

// The message of the exception `work` throws, or "" when it throws none.
std::string message_of(const auto& work) {
    try {
        work();
    } catch (const std::exception& error) {
        return error.what();
    }
    return "";
}

}  // namespace

TEST_CASE("safetensors: a header of 40,000 dimensions is checked in linear time") {
    // Each dimension is checked; a message built eagerly (a dump of the whole shape per dimension) made
    // this 80 KB header cost 40,000 x 80 KB of formatting, over 10 s. The check now formats on failure only.
    std::string shape;
    for (int i = 0; i < 40000; ++i) shape += i ? ",1" : "1";
    const std::string bytes =
        safetensors_bytes("{\"t\":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[0,4]}}", 4);
    CHECK(bytes.size() > 80000);
    const double seconds = seconds_to_run([&] { (void)message_of([&] { decode_safetensors(bytes, "x"); }); });
    CHECK(seconds < 1.0);
}

TEST_CASE("safetensors: a header of 2 million values is refused in bounded memory and time") {
    // A shape of 2 million zeros fills a header at the limit (kMaxHeaderBytes, 4 MB): parsed whole, 96
    // bytes per value, it would take 400 MB (a 10 MB header took 800 MB when the limit was 16 MB). The
    // parser stops at kMaxJsonValues values; a header beyond kMaxHeaderBytes is not parsed.
    std::string zeros;
    zeros.reserve(kMaxHeaderBytes);
    while (zeros.size() + 80 < kMaxHeaderBytes) zeros += zeros.empty() ? "0" : ",0";
    const std::string bytes =
        safetensors_bytes("{\"t\":{\"dtype\":\"F32\",\"shape\":[" + zeros + "],\"data_offsets\":[0,0]}}", 0);
    std::string message;
    const double seconds = seconds_to_run([&] { message = message_of([&] { decode_safetensors(bytes, "x"); }); });
    CHECK(seconds < 1.0);
    CHECK(message.find("more than 200000 values") != std::string::npos);
#if !defined(__SANITIZE_ADDRESS__)
    // The memory, in a child process whose address space may grow by 400 MB only: a bad_alloc there
    // (exit code 3) means the parser's memory is not bounded.
    const pid_t child = ::fork();
    if (child == 0) {
        std::ifstream statm("/proc/self/statm");
        uint64_t pages = 0;
        statm >> pages;
        const rlimit limit{pages * ::sysconf(_SC_PAGESIZE) + (400u << 20), RLIM_INFINITY};
        ::setrlimit(RLIMIT_AS, &limit);
        try {
            decode_safetensors(bytes, "x");
        } catch (const std::bad_alloc&) {
            ::_exit(3);
        } catch (const std::exception&) {
            ::_exit(0);
        }
        ::_exit(1);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
#endif
    // A header beyond the cap is refused before it is parsed.
    std::string big = safetensors_bytes("{}", 0);
    big.resize(8 + kMaxHeaderBytes + 8, ' ');
    for (int i = 0; i < 8; ++i) big[i] = static_cast<char>(((kMaxHeaderBytes + 8) >> (8 * i)) & 0xFF);
    CHECK(message_of([&] { decode_safetensors(big, "x"); }).find("exceeds the limit of 4194304 bytes") !=
          std::string::npos);
}

TEST_CASE("write_file_atomically: a link planted in the folder never redirects the write") {
    TempDir dir;
    const std::string victim = dir.file("victim"), path = dir.file("last.safetensors");
    std::ofstream(victim) << "precious";
    // The temporary name of earlier versions, PATH.tmp-<pid>, planted as a link to the victim.
    REQUIRE(::symlink(victim.c_str(), (path + ".tmp-" + std::to_string(::getpid())).c_str()) == 0);
    write_file_atomically(path, "checkpoint");
    CHECK(read_file(victim, kMaxSafetensorsBytes) == "precious");
    CHECK(read_file(path, kMaxSafetensorsBytes) == "checkpoint");
    // PATH itself a link: the rename replaces the link, not the file it points to.
    const std::string linked = dir.file("config.json");
    REQUIRE(::symlink(victim.c_str(), linked.c_str()) == 0);
    write_file_atomically(linked, "{}");
    CHECK(read_file(victim, kMaxSafetensorsBytes) == "precious");
    CHECK(read_file(linked, kMaxSafetensorsBytes) == "{}");
    CHECK_FALSE(std::filesystem::is_symlink(linked));
}

TEST_CASE("read_file: a FIFO, a device or a file over the cap is refused at once, naming the path") {
    TempDir dir;
    const std::string fifo = dir.file("last.safetensors");
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    std::string message;
    double seconds = seconds_to_run([&] { message = message_of([&] { load_safetensors(fifo); }); });
    CHECK(seconds < 0.5);
    CHECK(message == "cannot read " + fifo + ": expected a regular file, found a FIFO (named pipe)");
    CHECK(message_of([&] { read_file_bytes(fifo, kMaxSafetensorsBytes); }) == message);

    seconds = seconds_to_run([&] { message = message_of([&] { load_safetensors("/dev/zero"); }); });
    CHECK(seconds < 0.5);
    CHECK(message == "cannot read /dev/zero: expected a regular file, found a character device");

    const std::string text = dir.file("config.json");
    std::ofstream(text) << "0123456789";
    CHECK(read_file(text, 10) == "0123456789");
    CHECK(message_of([&] { read_file(text, 9); }) ==
          "cannot read " + text + ": the file is 10 bytes, more than the 9 allowed");
}
