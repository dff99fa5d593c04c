// Corruption sweeps of the library's readers (docs/reliability.md): IDX (datasets/mnist.h), CIFAR-10
// (datasets/cifar10.h), safetensors (core/io/safetensors.h), PGM/PPM (datasets/image_file.h) and JSON
// (core/io/json.h). Each takes a small valid file built here and thousands of corrupted variants of it
// (tests/corruption_sweep.h: truncations, bit flips, byte values, every header field set to 0, -1, 2^31-1,
// 2^32-1, 2^63 ...; for JSON also invalid UTF-8, deep nesting, unterminated strings, huge numbers and
// duplicate keys). Each variant must read, and then agree with itself (the sizes the header claims are
// the sizes read), or throw a std::exception with a message; never crash, hang or allocate from a size
// the file cannot back. The counts are checked so that the sweeps cannot silently shrink.
#include <filesystem>
#include <fstream>

#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "datasets/cifar10.h"
#include "datasets/image_file.h"
#include "datasets/mnist.h"
#include "tests/corruption_sweep.h"
#include "tests/helpers.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using testing::TempDir;

namespace {

void write_text(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

std::string as_text(const std::vector<uint8_t>& bytes) { return std::string(bytes.begin(), bytes.end()); }

// An IDX image file of `count` images of rows x cols, and its label file, pixels and labels random.
std::string random_idx_images(int64_t count, int64_t rows, int64_t cols, Rng& rng) {
    std::vector<uint8_t> pixels;
    for (int64_t i = 0; i < count * rows * cols; ++i) pixels.push_back(static_cast<uint8_t>(rng.randint(256)));
    return as_text(testing::idx_images(uint32_t(count), uint32_t(rows), uint32_t(cols), pixels));
}

std::string random_idx_labels(int64_t count, Rng& rng) {
    std::vector<uint8_t> labels;
    for (int64_t i = 0; i < count; ++i) labels.push_back(static_cast<uint8_t>(rng.randint(10)));
    return as_text(testing::idx_labels(uint32_t(count), labels));
}

// The big-endian 32-bit word at `offset`, as IDX stores sizes.
int64_t be32(const std::string& bytes, size_t offset) {
    return static_cast<int64_t>(read_binary_field(bytes, {offset, 4, true}));
}

void check_sweep(const SweepCounts& counts, int64_t at_least, bool some_accepted) {
    CHECK(counts.variants >= at_least);
    CHECK(counts.accepted + counts.refused == counts.variants);
    CHECK(counts.refused > 0);
    if (some_accepted) CHECK(counts.accepted > 0);  // flipped pixels: still valid files
    MESSAGE(counts.variants, " variants: ", counts.accepted, " read, ", counts.refused, " refused");
}

}  // namespace

TEST_CASE("corruption sweep: IDX images and labels") {
    TempDir dir;
    Rng rng(101);
    const std::string path = dir.file("images-idx3-ubyte"), labels_path = dir.file("labels-idx1-ubyte");
    const std::string images = random_idx_images(3, 5, 4, rng);  // 16 + 60 bytes
    const std::string labels = random_idx_labels(7, rng);        // 8 + 7 bytes

    SweepCounts counts;
    const auto read_images = [&](const std::string& bytes) {
        write_text(path, bytes);
        const ImageDataset data = read_idx_images(path, "mnist");
        // The file is exactly the header and count x rows x cols pixels, as its header says.
        REQUIRE(data.height == be32(bytes, 8));
        REQUIRE(data.width == be32(bytes, 12));
        REQUIRE(data.count == be32(bytes, 4));
        REQUIRE(static_cast<int64_t>(data.pixels.size()) == data.count * data.height * data.width);
        REQUIRE(static_cast<int64_t>(bytes.size()) == 16 + data.count * data.height * data.width);
    };
    const auto read_labels = [&](const std::string& bytes) {
        write_text(labels_path, bytes);
        const std::vector<uint8_t> read = read_idx_labels(labels_path, "mnist", 10);
        REQUIRE(static_cast<int64_t>(read.size()) == be32(bytes, 4));
        REQUIRE(read.size() + 8 == bytes.size());
        for (const uint8_t label : read) REQUIRE(label < 10);
    };
    const std::vector<BinaryField> image_fields = {{0, 4, true}, {4, 4, true}, {8, 4, true}, {12, 4, true}};
    for_each_variant(images, image_fields, rng, 1000, 1000 / kSweepScale,
                     [&](const std::string& bytes, const char* family) { feed(bytes, read_images, counts, family); });
    for_each_variant(labels, {{0, 4, true}, {4, 4, true}}, rng, 1000, 500 / kSweepScale,
                     [&](const std::string& bytes, const char* family) { feed(bytes, read_labels, counts, family); });
    check_sweep(counts, 4000 / kSweepScale, true);

    // Two of the variants, with their messages: a size the file cannot back, refused before allocating.
    std::string huge = images;
    write_binary_field(huge, {4, 4, true}, 0x7FFFFFFF);
    CHECK(contains(thrown_message([&] { read_images(huge); }), "header says 2147483647 images of 5x4"));
    write_binary_field(huge, {4, 4, true}, 0xFFFFFFFF);
    CHECK(contains(thrown_message([&] { read_images(huge); }), "image count -1, expected 0 or more"));
}

TEST_CASE("corruption sweep: CIFAR-10 batches") {
    TempDir dir;
    Rng rng(102);
    const std::string path = dir.file("data_batch_1.bin");
    std::string batch;  // 2 records of 1 label byte + 3072 pixels
    for (int r = 0; r < 2; ++r) {
        batch += static_cast<char>(rng.randint(10));
        for (int i = 0; i < 3072; ++i) batch += static_cast<char>(rng.randint(256));
    }
    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        write_text(path, bytes);
        ImageDataset data;
        data.channels = 3;
        data.height = data.width = 32;
        read_cifar10_batch(path, data);
        REQUIRE(data.count * 3073 == static_cast<int64_t>(bytes.size()));
        REQUIRE(static_cast<int64_t>(data.pixels.size()) == data.count * 3072);
        for (const uint8_t label : data.labels) REQUIRE(label < 10);
    };
    // The label bytes are the only fields.
    for_each_variant(batch, {{0, 1, true}, {3073, 1, true}}, rng, 2000 / kSweepScale, 1000 / kSweepScale,
                     [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); });
    check_sweep(counts, 4000 / kSweepScale, true);
}

TEST_CASE("corruption sweep: safetensors") {
    Rng rng(103);
    const NamedTensors tensors = {{"a.weight", random_tensor({3, 4}, 1, false)},
                                  {"a.bias", random_tensor({4}, 2, false)},
                                  {"empty", Tensor::zeros({0, 5})},
                                  {"scalar", random_tensor({}, 3, false)}};
    const std::string valid = encode_safetensors(tensors, {{"epoch", "3"}, {"note", "caf\xc3\xa9"}});
    const auto header_length = [](const std::string& bytes) { return read_binary_field(bytes, {0, 8, false}); };
    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        const SafetensorsFile file = decode_safetensors(bytes, "x.safetensors");
        // The tensors hold exactly the data section: 8 + header + data is the file.
        int64_t data_bytes = 0;
        for (const auto& [name, t] : file.tensors) data_bytes += t.numel() * static_cast<int64_t>(sizeof(Scalar));
        REQUIRE(8 + header_length(bytes) + static_cast<uint64_t>(data_bytes) == bytes.size());
    };
    const auto visit = [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); };
    for_each_variant(valid, {{0, 8, false}}, rng, 1500 / kSweepScale, 1000 / kSweepScale, visit);

    // Every number of the header (shapes, offsets, the checksum's digits) set to each suspicious value,
    // the 8-byte header length then made right again, so the value itself must be refused or agree.
    const size_t header_end = 8 + header_length(valid);
    const std::string data = valid.substr(header_end);
    const std::string header = valid.substr(8, header_end - 8);
    for_each_text_field_variant(header, digit_runs(header, 0, header.size()),
                                [&](const std::string& new_header) {
                                    std::string file(8, '\0');
                                    write_binary_field(file, {0, 8, false}, new_header.size());
                                    return file + new_header + data;
                                },
                                visit);
    // Offsets that overlap or run past the end, made by hand: named in the message.
    const auto with_header = [&](std::string text) {
        std::string file(8, '\0');
        write_binary_field(file, {0, 8, false}, text.size());
        return file + text + std::string(48, '\0');
    };
    const std::string overlap = with_header(R"({"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},)"
                                            R"("b":{"dtype":"F32","shape":[6],"data_offsets":[16,40]}})");
    CHECK(contains(thrown_message([&] { read(overlap); }), "overlap tensor 'a'"));
    const std::string past = with_header(R"({"a":{"dtype":"F32","shape":[18],"data_offsets":[0,72]}})");
    CHECK(contains(thrown_message([&] { read(past); }), "run past the end of the data section (48 bytes)"));
    const std::string huge = with_header(R"({"a":{"dtype":"F64","shape":[4294967296,4294967296],)"
                                         R"("data_offsets":[0,48]}})");
    CHECK(contains(thrown_message([&] { read(huge); }), "needs more than 2^63 bytes"));
    check_sweep(counts, 3000 / kSweepScale, true);
}

TEST_CASE("corruption sweep: PGM and PPM images") {
    Rng rng(104);
    std::string ppm = "P6\n# a comment\n5 4\n255\n", pgm16 = "P5 3 2 65535\n";
    for (int i = 0; i < 5 * 4 * 3; ++i) ppm += static_cast<char>(rng.randint(256));
    for (int i = 0; i < 3 * 2; ++i) pgm16 += std::string{char(0x12), char(0x34)};  // 0x1234 <= 65535
    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        const Image image = decode_pnm(bytes, "x.ppm");
        REQUIRE((image.channels == 1 || image.channels == 3));
        REQUIRE((image.height >= 1 && image.height <= kMaxImageSide && image.width >= 1 && image.width <= kMaxImageSide));
        const int64_t samples = image.channels * image.height * image.width;
        REQUIRE(static_cast<int64_t>(image.pixels.size()) == samples);
        REQUIRE(samples <= static_cast<int64_t>(bytes.size()));  // every sample came from the file
    };
    const auto visit = [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); };
    for (const std::string& valid : {ppm, pgm16}) {
        for_each_variant(valid, {}, rng, 1000, 700 / kSweepScale, visit);
        const size_t raster = valid == ppm ? 60 : 12;
        for_each_text_field_variant(valid, digit_runs(valid, 2, valid.size() - raster),
                                    [](const std::string& changed) { return changed; }, visit);
    }
    check_sweep(counts, 4000 / kSweepScale, true);
}

TEST_CASE("corruption sweep: JSON") {
    Rng rng(105);
    const std::string valid =
        R"({"name": "patchgrad \u00e9\ud83d\ude00 caf)" "\xc3\xa9" R"(", "version": 1, "lr": 0.001, "neg": -2.5e-3,)"
        R"( "flags": [true, false, null], "shape": [3, 32, 32], "nested": {"a": {"b": [1, {"c": "d\n\"e\""}]}},)"
        R"( "empty": {}, "list": [], "big": 9007199254740992})";
    REQUIRE(parse_json(valid).size() == 10);
    SweepCounts counts;
    const auto read = [&](const std::string& bytes) {
        const Json value = parse_json(bytes, "x.json");
        REQUIRE(parse_json(value.dump()) == value);  // what was read writes and reads back the same
    };
    const auto visit = [&](const std::string& bytes, const char* family) { feed(bytes, read, counts, family); };
    for_each_variant(valid, {}, rng, 1000, 800 / kSweepScale, visit);
    for_each_text_field_variant(valid, digit_runs(valid, 0, valid.size()), [](const std::string& s) { return s; },
                                visit);

    // Bytes that are not UTF-8 (a lone continuation byte, overlong forms, a surrogate, beyond U+10FFFF, a
    // sequence cut short), and JSON's structural characters, inserted at every position.
    const std::vector<std::string> insertions = {"\x80", "\xbf", "\xc0\xaf", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80",
                                                 "\xf4\x90\x80\x80", "\xf5", "\xff", "\xe2\x82", "[", "}", "\"", "\\",
                                                 ",", ":", std::string(1, '\0'), "\\u12", "\\ud800"};
    for (const std::string& insertion : insertions)
        for (size_t at = 0; at <= valid.size(); at += kSweepScale) {
            std::string changed = valid;
            changed.insert(at, insertion);
            visit(changed, "insertion");
        }
    // Deep nesting (refused at kMaxJsonDepth, before the parser's recursion could exhaust the stack),
    // unterminated strings, huge numbers and duplicate keys.
    const std::vector<std::string> hostile = {std::string(100000, '['), std::string(100000, '{'),
                                              [] { std::string s; for (int i = 0; i < 100000; ++i) s += "{\"a\":"; return s; }(),
                                              std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']'),
                                              "\"abc", "\"abc\\", "\"\\u12", "{\"a\": \"b}", "1e400", "-1e400",
                                              std::string(5000, '9'), "1" + std::string(400, '0') + ".5e-100",
                                              R"({"a": 1, "b": 2, "a": 3})", R"({"lr": 1, "x": {"y": 1, "y": 2}})"};
    for (const std::string& text : hostile) visit(text, "hostile");
    CHECK(contains(thrown_message([&] { read(std::string(100000, '[')); }), "nested deeper than 64 levels"));
    CHECK(contains(thrown_message([&] { read(R"({"a": 1, "b": 2, "a": 3})"); }), "duplicate key \"a\""));
    CHECK(contains(thrown_message([&] { read("1e400"); }), "outside the range of a double"));
    CHECK(contains(thrown_message([&] { read("\"abc"); }), "unterminated string"));
    CHECK(parse_json(std::string(kMaxJsonDepth, '[') + std::string(kMaxJsonDepth, ']')).is_array());  // the limit itself
    check_sweep(counts, 5000 / kSweepScale, true);
}
