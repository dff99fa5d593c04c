// Checkpoint files: the safetensors reader and writer (core/io/safetensors.h), CRC-32, and atomic writes
// (core/io/atomic_file.h).
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>

#include "core/io/atomic_file.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// A fresh directory under /tmp, removed with everything in it at the end of the test.
struct TempDir {
    std::string path;
    TempDir() {
        char name[] = "/tmp/patchgrad-test-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path = name;
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    std::string file(const std::string& name) const { return path + "/" + name; }
    // The names in the directory, to check that no temporary file is left behind.
    std::vector<std::string> names() const {
        std::vector<std::string> out;
        for (const auto& entry : std::filesystem::directory_iterator(path)) out.push_back(entry.path().filename());
        std::sort(out.begin(), out.end());
        return out;
    }
};

// The bytes of a safetensors file with this header text (padded to 8 bytes as the writer does) and data.
std::string make_file(const std::string& header, const std::string& data) {
    std::string padded = header;
    padded.append((8 - padded.size() % 8) % 8, ' ');
    std::string file;
    for (int i = 0; i < 8; ++i) file += static_cast<char>((padded.size() >> (8 * i)) & 0xFF);
    return file + padded + data;
}

std::string decode_error(const std::string& bytes) {
    return thrown_message([&] { decode_safetensors(bytes, "model.safetensors"); });
}

// Same shape and the same bits in every element (so -0, NaN payloads and denormals must survive).
void check_bit_exact(const Tensor& actual, const Tensor& expected) {
    REQUIRE(actual.shape() == expected.shape());
    for (int64_t i = 0; i < expected.numel(); ++i)
        CHECK_MESSAGE(std::bit_cast<uint64_t>(double(actual.data()[i])) == std::bit_cast<uint64_t>(double(expected.data()[i])),
                      "element ", i, ": ", actual.data()[i], " vs ", expected.data()[i]);
}

// A small checkpoint: a matrix, a scalar, an empty tensor and a vector of awkward values.
NamedTensors sample_tensors() {
    const Scalar inf = std::numeric_limits<Scalar>::infinity();
    return {{"blocks.0.attn.qkv.weight", random_tensor({3, 4}, 7, false)},
            {"scale", Tensor::scalar(0.125)},
            {"empty", Tensor::zeros({0, 5})},
            {"special", Tensor::from_vector({Scalar(-0.0), inf, -inf, std::numeric_limits<Scalar>::denorm_min(),
                                             std::numeric_limits<Scalar>::max(), Scalar(1.0 / 3.0)},
                                            {6})}};
}

}  // namespace

// ---- CRC-32 -------------------------------------------------------------------------------------------

TEST_CASE("crc32: the standard check values") {
    CHECK(crc32("") == 0x00000000u);
    CHECK(crc32("123456789") == 0xCBF43926u);  // the check value of CRC-32/ISO-HDLC, as Python's zlib.crc32(b"123456789")
    CHECK(crc32("The quick brown fox jumps over the lazy dog") == 0x414FA339u);
    CHECK(crc32(std::string(1, '\0')) == 0xD202EF8Du);
}

// ---- round trips --------------------------------------------------------------------------------------

TEST_CASE("safetensors: write then read gives the same tensors bit for bit, in order, with the metadata") {
    const NamedTensors tensors = sample_tensors();
    const std::string bytes = encode_safetensors(tensors, {{"epoch", "3"}, {"config", "{\"dim\": 64}"}});
    const SafetensorsFile file = decode_safetensors(bytes);
    REQUIRE(file.tensors.size() == tensors.size());
    for (size_t i = 0; i < tensors.size(); ++i) {
        CHECK(file.tensors[i].first == tensors[i].first);
        check_bit_exact(file.tensors[i].second, tensors[i].second);
    }
    CHECK(file.tensor("scale").dim() == 0);
    CHECK(file.tensor("scale").item() == 0.125);
    CHECK(file.tensor("empty").shape() == Shape{0, 5});
    CHECK(!file.tensor("scale").requires_grad());
    REQUIRE(file.metadata.size() == 3);
    CHECK(file.metadata[0] == std::pair<std::string, std::string>{"epoch", "3"});
    CHECK(file.metadata[1] == std::pair<std::string, std::string>{"config", "{\"dim\": 64}"});
    CHECK(file.metadata[2].first == kChecksumKey);
    CHECK(*file.find_metadata("epoch") == "3");
    CHECK(file.find_metadata("absent") == nullptr);
    CHECK(contains(thrown_message([&] { file.tensor("head.bias"); }),
                   "no tensor named 'head.bias' (the file has 'blocks.0.attn.qkv.weight', 'scale', 'empty', 'special')"));
    // no tensors at all is a valid file too
    CHECK(decode_safetensors(encode_safetensors({})).tensors.empty());
}

TEST_CASE("safetensors: the layout byte by byte") {
    // One (2,) tensor of this build's Scalar (F64: the tests are the float64 build): 16 bytes of data.
    const std::string bytes = encode_safetensors({{"w", Tensor::from_vector({1.5, -2}, {2})}}, {{"k", "v"}});
    uint64_t header_size = 0;
    for (int i = 0; i < 8; ++i) header_size |= uint64_t(static_cast<unsigned char>(bytes[i])) << (8 * i);
    CHECK((8 + header_size) % 8 == 0);  // the data section starts 8-byte aligned
    REQUIRE(bytes.size() == 8 + header_size + 16);
    const std::string header = bytes.substr(8, header_size);
    CHECK(header.rfind(R"({"__metadata__":{"k":"v","patchgrad.checksum":"crc32:)", 0) == 0);
    CHECK(contains(header, R"("w":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})"));
    CHECK(header.find_first_not_of(' ', header.find_last_of('}') + 1) == std::string::npos);  // padding is spaces
    // 1.5 = 0x3FF8000000000000, little-endian: 00 00 00 00 00 00 F8 3F
    CHECK(bytes.substr(8 + header_size, 8) == std::string("\0\0\0\0\0\0\xF8\x3F", 8));
    // -2 = 0xC000000000000000
    CHECK(bytes.substr(8 + header_size + 8, 8) == std::string("\0\0\0\0\0\0\0\xC0", 8));
    // the checksum in the header is the CRC-32 of the data section
    char expected[32];
    std::snprintf(expected, sizeof(expected), "\"crc32:%08x\"", crc32(bytes.substr(8 + header_size)));
    CHECK(contains(header, expected));
}

TEST_CASE("safetensors: a file assembled by hand, F32 and F64, unaligned, without metadata, is read") {
    // b: F32 (2,) = [1, -2]: 1.0f = 0x3F800000, -2.0f = 0xC0000000, little-endian
    // a: F64 ()   = 1.5:     0x3FF8000000000000
    // Data section: a at [0, 8), b at [8, 16); header order b, a. No padding: 8 + N need not be aligned.
    const std::string header =
        R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},"a":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})";
    std::string file;
    for (int i = 0; i < 8; ++i) file += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
    file += header;
    file += std::string("\0\0\0\0\0\0\xF8\x3F", 8);                // a
    file += std::string("\0\0\x80\x3F", 4) + std::string("\0\0\0\xC0", 4);  // b
    const SafetensorsFile read = decode_safetensors(file);
    REQUIRE(read.tensors.size() == 2);
    CHECK(read.tensors[0].first == "b");
    check_values(read.tensors[0].second, {2}, {1, -2}, 0);
    CHECK(read.tensors[1].first == "a");
    check_values(read.tensors[1].second, {}, {1.5}, 0);
    CHECK(read.metadata.empty());
}

TEST_CASE("safetensors: save and load through a file") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    save_safetensors(path, sample_tensors(), {{"step", "100"}});
    const SafetensorsFile file = load_safetensors(path);
    check_bit_exact(file.tensor("blocks.0.attn.qkv.weight"), sample_tensors()[0].second);
    CHECK(*file.find_metadata("step") == "100");
    CHECK(dir.names() == std::vector<std::string>{"model.safetensors"});  // no temporary file left
    // saving again replaces the file; a checksum entry passed in is replaced by the new one
    save_safetensors(path, {{"x", Tensor::ones({2})}}, {{kChecksumKey, "crc32:00000000"}});
    const SafetensorsFile again = load_safetensors(path);
    CHECK(again.tensors.size() == 1);
    CHECK(again.metadata.size() == 1);
    CHECK(*again.find_metadata(kChecksumKey) != "crc32:00000000");
    // errors name the path
    CHECK(contains(thrown_message([&] { load_safetensors(dir.file("absent.safetensors")); }),
                   dir.file("absent.safetensors") + ": No such file or directory"));
    std::string bytes = read_file(path, kMaxSafetensorsBytes);
    bytes.back() ^= 1;
    write_file_atomically(path, bytes);
    CHECK(contains(thrown_message([&] { load_safetensors(path); }), path + ": checksum mismatch"));
}

TEST_CASE("safetensors: the writer refuses names it could not read back") {
    const Tensor t = Tensor::ones({1});
    CHECK(contains(thrown_message([&] { encode_safetensors({{"a", t}, {"a", t}}); }), "tensor name 'a' appears twice"));
    CHECK(contains(thrown_message([&] { encode_safetensors({{"__metadata__", t}}); }), "'__metadata__' is reserved"));
    CHECK(contains(thrown_message([&] { encode_safetensors({{"a", Tensor()}}); }), "tensor 'a' is undefined"));
    CHECK(contains(thrown_message([&] { encode_safetensors({}, {{"k", "1"}, {"k", "2"}}); }),
                   "metadata key 'k' appears twice"));
    CHECK_THROWS_AS(encode_safetensors({{"a", t}, {"a", t}}), std::invalid_argument);
}

TEST_CASE("safetensors: writing many tensors takes time in proportion to their number") {
    // Each name was looked up among the header's entries so far: quadratic, 0.6 s for the 14,000 tensors
    // of the largest model the flags allow. 20,000 names sharing a long prefix, as a model's do.
    NamedTensors tensors;
    for (int i = 0; i < 20000; ++i)
        tensors.emplace_back("blocks." + std::to_string(i / 20) + ".attn.relative_position_bias_table." +
                                 std::to_string(i), Tensor::zeros({1}));
    const auto start = std::chrono::steady_clock::now();
    const std::string bytes = encode_safetensors(tensors);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    MESSAGE("encoded 20,000 tensors in ", seconds, " s");
    CHECK(seconds < 1.0);
    const SafetensorsFile file = decode_safetensors(bytes);
    REQUIRE(file.tensors.size() == tensors.size());
    CHECK(file.tensors.back().first == tensors.back().first);
}

// ---- corrupt files: every one refused with the file, the field and the values --------------------------

TEST_CASE("safetensors: a file cut short at any length is refused, never read out of bounds") {
    const std::string bytes = encode_safetensors(sample_tensors(), {{"epoch", "3"}});
    REQUIRE_NOTHROW(decode_safetensors(bytes));
    for (size_t n = 0; n < bytes.size(); ++n)
        CHECK_THROWS_AS(decode_safetensors(std::string_view(bytes).substr(0, n)), std::runtime_error);
    CHECK(contains(decode_error(bytes.substr(0, 5)),
                   "model.safetensors: the file is 5 bytes, too short for the 8-byte header length"));
    CHECK(contains(decode_error(bytes.substr(0, 20)), "model.safetensors: header length"));
    CHECK(contains(decode_error(bytes.substr(0, bytes.size() - 1)), "run past the end of the data section"));
}

TEST_CASE("safetensors: each kind of corruption is refused with a message naming file, field and values") {
    const std::string f32x2 = R"({"dtype":"F32","shape":[2],"data_offsets":)";  // a (2,) F32 entry, offsets follow
    const std::string eight(8, '\0'), twelve(12, '\0');
    struct Case {
        std::string bytes;
        std::string fragment;
    };
    const std::vector<Case> cases = {
        {std::string("\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x7F{}", 10),
         "model.safetensors: header length 9223372036854775807 is larger than the 2 bytes after it"},
        {std::string("\x10\0\0\0\0\0\0\0{}      ", 16), "header length 16 is larger than the 8 bytes after it"},
        {make_file(R"({"a": )", ""), "model.safetensors: header: byte 8 (line 1, column 9): expected a value"},
        {make_file("", ""), "model.safetensors: header: byte 0 (line 1, column 1): expected a value"},
        {make_file("[1, 2]", ""), "model.safetensors: header is an array, expected a JSON object"},
        {make_file(R"({"w": {"dtype":"Q7","shape":[2],"data_offsets":[0,8]}})", eight),
         "model.safetensors: tensor 'w': dtype 'Q7' is not a safetensors dtype"},
        {make_file(R"({"w": {"dtype":"F16","shape":[4],"data_offsets":[0,8]}})", eight),
         "model.safetensors: tensor 'w': dtype 'F16' is not supported (patchgrad reads F32 and F64)"},
        {make_file(R"({"w": {"dtype":7,"shape":[2],"data_offsets":[0,8]}})", eight),
         "tensor 'w': dtype is a number, expected a string"},
        {make_file(R"({"head.weight": {"dtype":"F32","shape":[10,128],"data_offsets":[0,400]}})", std::string(400, '\0')),
         "model.safetensors: tensor 'head.weight': data_offsets [0, 400] hold 400 bytes but shape (10, 128) F32 needs 5120"},
        {make_file(R"({"a": )" + f32x2 + R"([0,8]}, "b": )" + f32x2 + "[4,12]}}", twelve),
         "model.safetensors: tensor 'b' data_offsets [4, 12] overlap tensor 'a' data_offsets [0, 8]"},
        {make_file(R"({"a": )" + f32x2 + R"([0,8]}, "b": )" + f32x2 + "[0,8]}}", eight),
         "tensor 'b' data_offsets [0, 8] overlap tensor 'a' data_offsets [0, 8]"},
        {make_file(R"({"a": )" + f32x2 + "[4,12]}}", twelve),
         "model.safetensors: bytes [0, 4) of the data section belong to no tensor"},
        {make_file(R"({"a": )" + f32x2 + "[0,8]}}", twelve),
         "model.safetensors: the data section is 12 bytes but the tensors cover only 8 (trailing bytes)"},
        {make_file(R"({"a": )" + f32x2 + "[0,8]}}", std::string(4, '\0')),
         "model.safetensors: tensor 'a': data_offsets [0, 8] run past the end of the data section (4 bytes)"},
        {make_file(R"({"a": )" + f32x2 + "[8,0]}}", eight), "tensor 'a': data_offsets [8, 0] begin after end"},
        {make_file(R"({"a": )" + f32x2 + "[0,8,16]}}", eight),
         "tensor 'a': data_offsets is an array of 3 elements, expected [begin, end]"},
        {make_file(R"({"a": )" + f32x2 + "[-8,0]}}", eight), "tensor 'a': data_offsets[0] is -8, expected a whole number >= 0"},
        {make_file(R"({"a": )" + f32x2 + "[0,1e300]}}", eight),
         "tensor 'a': data_offsets[1] is 1e+300, expected a whole number >= 0"},
        {make_file(R"({"a": {"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
         "tensor 'a': shape[0] is -2, expected a whole number >= 0"},
        {make_file(R"({"a": {"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", eight), "shape[0] is 2.5"},
        {make_file(R"({"a": {"dtype":"F32","shape":["2"],"data_offsets":[0,8]}})", eight), "shape[0] is \"2\""},
        {make_file(R"({"a": {"dtype":"F32","shape":2,"data_offsets":[0,8]}})", eight),
         "tensor 'a': shape is a number, expected an array of sizes"},
        {make_file(R"({"a": {"dtype":"F32","shape":[9007199254740992,9007199254740992,0],"data_offsets":[0,0]}})", ""),
         "tensor 'a': shape [9007199254740992,9007199254740992,0] F32 needs more than 2^63 bytes"},
        {make_file(R"({"a": {"dtype":"F32","shape":[2]}})", eight), "tensor 'a': missing field 'data_offsets'"},
        {make_file(R"({"a": {"dtype":"F32","shape":[2],"data_offsets":[0,8],"offset":0}})", eight),
         "tensor 'a': unknown field 'offset' (expected dtype, shape, data_offsets)"},
        {make_file(R"({"a": [0, 8]})", eight), "tensor 'a': expected an object"},
        {make_file(R"({"a": )" + f32x2 + R"([0,8]}, "a": )" + f32x2 + "[0,8]}}", eight),
         "model.safetensors: header: byte 56 (line 1, column 57): duplicate key \"a\" (first at byte 1)"},
        {make_file(R"({"__metadata__": {"epoch": 3}})", ""),
         "model.safetensors: __metadata__ 'epoch' is a number (3), expected a string"},
        {make_file(R"({"__metadata__": ["x"]})", ""), "model.safetensors: __metadata__ is an array, expected an object"},
        {make_file(R"({"__metadata__": {"patchgrad.checksum": "crc32:xyz"}})", ""),
         "model.safetensors: metadata patchgrad.checksum is \"crc32:xyz\", expected crc32: and 8 lowercase hex digits"},
        {make_file(R"({"__metadata__": {"patchgrad.checksum": "crc32:00000001"}})", ""),
         "model.safetensors: checksum mismatch: the header says crc32:00000001 but the data section has crc32:00000000"},
    };
    for (const Case& c : cases) {
        const std::string message = decode_error(c.bytes);
        CHECK_MESSAGE(contains(message, c.fragment), "message <", message, ">, expected <", c.fragment, ">");
        CHECK_THROWS_AS(decode_safetensors(c.bytes), std::runtime_error);
    }
    // the same header with consistent values is fine: the cases fail for the reason they name
    CHECK_NOTHROW(decode_safetensors(make_file(R"({"a": )" + f32x2 + R"([0,8]}, "b": )" + f32x2 + "[8,16]}}",
                                               std::string(16, '\0'))));
    CHECK_NOTHROW(decode_safetensors(make_file(R"({"__metadata__": {"patchgrad.checksum": "crc32:00000000"}})", "")));
}

TEST_CASE("safetensors: flipping any single bit of the data section fails the checksum") {
    const std::string bytes = encode_safetensors({{"w", random_tensor({2, 3}, 1, false)}, {"b", Tensor::ones({3})}});
    const size_t data_start = bytes.size() - (6 + 3) * sizeof(Scalar);
    for (size_t i = data_start; i < bytes.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string corrupt = bytes;
            corrupt[i] ^= static_cast<char>(1 << bit);
            const std::string message = decode_error(corrupt);
            CHECK_MESSAGE(contains(message, "model.safetensors: checksum mismatch: the header says crc32:"), message);
            CHECK(contains(message, "but the data section has crc32:"));
        }
    }
}

TEST_CASE("safetensors: random damage to a file is refused or read, never crashes") {
    const std::string bytes = encode_safetensors(sample_tensors(), {{"epoch", "3"}});
    Rng rng(5);
    int refused = 0;
    for (int trial = 0; trial < 5000; ++trial) {
        std::string damaged = bytes;
        const int changes = 1 + static_cast<int>(rng.next_u64() % 4);
        for (int k = 0; k < changes; ++k)
            damaged[rng.next_u64() % damaged.size()] = static_cast<char>(rng.next_u64() % 256);
        try {
            decode_safetensors(damaged);
        } catch (const std::runtime_error&) {
            ++refused;
        }
    }
    CHECK(refused > 4000);  // most changes hit the checksum or the header
}

// ---- atomic writes ------------------------------------------------------------------------------------

TEST_CASE("write_file_atomically: writes, replaces, and leaves no temporary file") {
    TempDir dir;
    const std::string path = dir.file("config.json");
    write_file_atomically(path, "first");
    CHECK(read_file(path, kMaxSafetensorsBytes) == "first");
    write_file_atomically(path, std::string("second\0with a zero", 18));
    CHECK(read_file(path, kMaxSafetensorsBytes) == std::string("second\0with a zero", 18));
    write_file_atomically(path, "");
    CHECK(read_file(path, kMaxSafetensorsBytes).empty());
    CHECK(dir.names() == std::vector<std::string>{"config.json"});
}

TEST_CASE("write_file_atomically and read_file: errors name the path and the reason") {
    TempDir dir;
    const std::string missing = dir.file("no/such/dir/model.safetensors");
    const std::string message = thrown_message([&] { write_file_atomically(missing, "x"); });
    CHECK(contains(message, "cannot write " + missing));
    CHECK(contains(message, "No such file or directory"));
    CHECK_THROWS_AS(write_file_atomically(missing, "x"), std::runtime_error);
    CHECK(contains(thrown_message([&] { save_safetensors(missing, {}); }), missing));
    CHECK(contains(thrown_message([&] { read_file(missing, kMaxSafetensorsBytes); }),
                   "cannot read " + missing + ": No such file or directory"));
    CHECK(contains(thrown_message([&] { read_file(dir.path, kMaxSafetensorsBytes); }),
                   "cannot read " + dir.path + ": Is a directory"));
    CHECK(contains(thrown_message([&] { load_safetensors(dir.path); }), "Is a directory"));
}

TEST_CASE("RegularFileReader: reads the pieces asked for, and names where a file shorter than them ends") {
    TempDir dir;
    const std::string path = dir.file("ten.bin");
    write_file_atomically(path, "0123456789");
    RegularFileReader file(path, 10);
    CHECK(file.size() == 10);
    CHECK(file.read(0, 4) == "0123");
    CHECK(file.read(6, 4) == "6789");
    CHECK(file.read(10, 0).empty());
    CHECK(file.read_at_most(8, 5) == "89");
    CHECK(file.read_at_most(12, 5).empty());
    CHECK(thrown_message([&] { file.read(8, 5); }) ==
          "cannot read " + path + ": bytes [8, 13) were asked for, but the file ends after 10 (it shrank while being read?)");
    // The same refusals as read_file, from the constructor.
    CHECK(thrown_message([&] { RegularFileReader(path, 9); }) ==
          "cannot read " + path + ": the file is 10 bytes, more than the 9 allowed");
    CHECK(contains(thrown_message([&] { RegularFileReader(dir.path, 10); }), "Is a directory"));
    // A safetensors file cut after its header: the data section, read last, is refused by size.
    const std::string saved = dir.file("model.safetensors");
    save_safetensors(saved, {{"w", Tensor::ones({4})}});
    const std::string bytes = read_file(saved, kMaxSafetensorsBytes);
    write_file_atomically(saved, bytes.substr(0, bytes.size() - 16));
    CHECK(contains(thrown_message([&] { load_safetensors(saved); }), "data_offsets"));
}

TEST_CASE("write_file_atomically: a failure at any step leaves the old file and no temporary file") {
    struct Step {
        WriteFault fault;
        const char* fragment;
    };
    const std::vector<Step> steps = {
        {WriteFault::create, "creating"},  {WriteFault::write, "writing"},   {WriteFault::sync, "fsync of"},
        {WriteFault::close, "closing"},    {WriteFault::rename, "renaming"},
    };
    for (const Step& step : steps) {
        TempDir dir;
        const std::string path = dir.file("model.safetensors");
        write_file_atomically(path, "old contents");
        const std::string message =
            thrown_message([&] { write_file_atomically(path, std::string(100000, 'n'), step.fault); });
        CHECK_MESSAGE(contains(message, "cannot write " + path + ": " + step.fragment), message);
        CHECK(contains(message, step.fault == WriteFault::write ? "No space left on device" : "Input/output error"));
        CHECK(read_file(path, kMaxSafetensorsBytes) == "old contents");
        CHECK(dir.names() == std::vector<std::string>{"model.safetensors"});
        // and when there was no file before, there is none after
        const std::string fresh = dir.file("fresh.json");
        CHECK_THROWS_AS(write_file_atomically(fresh, "{}", step.fault), std::runtime_error);
        CHECK(!std::filesystem::exists(fresh));
        CHECK(dir.names() == std::vector<std::string>{"model.safetensors"});
    }
    // after the rename the new file is in place; a failed directory sync says so
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    const std::string message = thrown_message([&] { write_file_atomically(path, "new", WriteFault::sync_directory); });
    CHECK(contains(message, "cannot write " + path + ": fsync of the directory " + dir.path));
    CHECK(contains(message, "the new contents are in place"));
    CHECK(read_file(path, kMaxSafetensorsBytes) == "new");
}

TEST_CASE("write_file_atomically: a real short write under a file size limit (ulimit -f) keeps the old file") {
    TempDir dir;
    const std::string path = dir.file("model.safetensors");
    write_file_atomically(path, "old contents");
    // The child process sets a 4 KiB file size limit and ignores SIGXFSZ, so write() returns a short count
    // and then fails with EFBIG. Its exit code tells the parent what happened: 0 = refused as it should be.
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::signal(SIGXFSZ, SIG_IGN);
        const struct rlimit limit = {4096, 4096};
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
        int code = 1;  // 1: the write did not fail
        try {
            write_file_atomically(path, std::string(1 << 20, 'n'));
        } catch (const std::runtime_error& error) {
            const std::string message = error.what();
            code = contains(message, "cannot write " + path + ": writing") && contains(message, "File too large") ? 0 : 2;
        } catch (...) {
            code = 3;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(read_file(path, kMaxSafetensorsBytes) == "old contents");
    CHECK(dir.names() == std::vector<std::string>{"model.safetensors"});
}

TEST_CASE("remove_stale_temporaries: removes the temporary files of dead processes, keeps the living's") {
    TempDir dir;
    const std::string path = dir.file("last.safetensors");
    write_file_atomically(path, "checkpoint");
    // A process that has exited: a child that returns at once, reaped, so its pid is free.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    REQUIRE(child > 0);
    ::waitpid(child, nullptr, 0);
    const std::string dead = path + ".tmp-" + std::to_string(child);
    const std::string alive = path + ".tmp-" + std::to_string(::getpid());  // this process: alive
    write_file_atomically(dead, "half a checkpoint");
    write_file_atomically(alive, "being written");
    write_file_atomically(path + ".tmp-notapid", "not ours");
    write_file_atomically(dir.file("other.safetensors.tmp-1"), "another file's");

    CHECK(remove_stale_temporaries(path) == 1);
    CHECK_FALSE(std::filesystem::exists(dead));
    CHECK(std::filesystem::exists(alive));
    CHECK(std::filesystem::exists(path + ".tmp-notapid"));
    CHECK(read_file(path, kMaxSafetensorsBytes) == "checkpoint");
    CHECK(remove_stale_temporaries(dir.file("missing/last.safetensors")) == 0);  // no folder: nothing to do
}
