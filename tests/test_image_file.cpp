// PGM/PPM images (datasets/image_file.h): files read back exactly (planar, comments, 16-bit and small
// maxvals scaled), every malformed header and every truncation refused with the field and the values in
// the message, random corruption never crashes; grey <-> colour and bilinear resizing worked out by hand.
#include <unistd.h>

#include <atomic>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "datasets/image_file.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

std::string decode_error(const std::string& bytes) {
    return thrown_message([&] { decode_pnm(bytes, "img.ppm"); });
}

// A 2 x 3 colour image, its pixels (r, g, b) = (10 y + x, 100 + 10 y + x, 200 + x), interleaved.
std::string small_ppm(const std::string& header = "P6\n3 2\n255\n") {
    std::string bytes = header;
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x)
            for (int c = 0; c < 3; ++c)
                bytes += static_cast<char>(c == 0 ? 10 * y + x : c == 1 ? 100 + 10 * y + x : 200 + x);
    return bytes;
}

}  // namespace

TEST_CASE("image_file: P6 and P5 read back planar, with comments, any whitespace, and scaled maxvals") {
    const Image rgb = decode_pnm(small_ppm("P6 # colour\n# size next\n3\t2\r\n255\n"), "x");
    CHECK(rgb.channels == 3);
    CHECK(rgb.height == 2);
    CHECK(rgb.width == 3);
    // planar (C, H, W): the red plane first, rows of 3
    CHECK(rgb.pixels == std::vector<uint8_t>{0, 1, 2, 10, 11, 12,              // red
                                             100, 101, 102, 110, 111, 112,  // green
                                             200, 201, 202, 200, 201, 202}); // blue

    const Image grey = decode_pnm(std::string("P5 2 1 255 ") + '\x07' + '\xff', "x");
    CHECK(grey.channels == 1);
    CHECK(grey.pixels == std::vector<uint8_t>{7, 255});

    // maxval 15: v -> round(v * 255 / 15) = 17 v;  maxval 1000 (2 bytes, big-endian): 500 -> 127.5 -> 128
    CHECK(decode_pnm(std::string("P5 2 1 15\n") + '\x00' + '\x0f', "x").pixels == std::vector<uint8_t>{0, 255});
    CHECK(decode_pnm(std::string("P5 2 1 15\n") + '\x03' + '\x07', "x").pixels == std::vector<uint8_t>{51, 119});
    const std::string wide = std::string("P5 2 1 1000\n") + '\x01' + '\xf4' + '\x03' + '\xe8';  // 500, 1000
    CHECK(decode_pnm(wide, "x").pixels == std::vector<uint8_t>{128, 255});
}

TEST_CASE("image_file: encode, write and read round trip") {
    Image image{3, 2, 3, {}};
    for (int i = 0; i < 18; ++i) image.pixels.push_back(static_cast<uint8_t>(i * 13));
    const Image back = decode_pnm(encode_pnm(image), "x");
    CHECK(back.pixels == image.pixels);
    CHECK(encode_pnm(image).substr(0, 11) == "P6\n3 2\n255\n");

    const auto dir = std::filesystem::temp_directory_path() / ("patchgrad_image_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "g.pgm").string();
    Image g{1, 2, 2, {1, 2, 3, 4}};
    write_pnm(path, g);
    CHECK(read_pnm(path).pixels == g.pixels);
    CHECK(contains(thrown_message([&] { read_pnm((dir / "missing.pgm").string()); }), "missing.pgm"));
    std::filesystem::remove_all(dir);
    CHECK(contains(thrown_message([] { encode_pnm(Image{2, 1, 1, {0, 0}}); }), "(2, 1, 1)"));
}

TEST_CASE("image_file: malformed headers are refused naming the field and the values") {
    CHECK(contains(decode_error("P"), "1 bytes, too short"));
    CHECK(contains(decode_error("P7 1 1 255 x"), "magic 'P7', expected 'P5' (binary PGM) or 'P6' (binary PPM)"));
    CHECK(contains(decode_error("P3 1 1 255 0 0 0"), "the text variant"));
    CHECK(contains(decode_error("\x89PNG\r\n"), "magic '?P'"));
    CHECK(contains(decode_error("P6"), "the header ends before the width"));
    CHECK(contains(decode_error("P63 2 255\n"), "expected whitespace before the width"));
    CHECK(contains(decode_error("P6 x 2 255\n"), "expected the width as a decimal number, found 'x'"));
    CHECK(contains(decode_error("P6 3 -2 255\n"), "expected the height as a decimal number, found '-'"));
    CHECK(contains(decode_error("P6 0 2 255\n"), "the width is 0"));
    CHECK(contains(decode_error("P6 3 2 0\n"), "the maxval is 0"));
    CHECK(contains(decode_error("P6 99999 2 255\n"), "the width 99999... is larger than 65535"));
    CHECK(contains(decode_error("P6 3 2 65536\n"), "the maxval 65536... is larger than 65535"));
    CHECK(contains(decode_error("P6 3 2 255"), "expected one whitespace byte after maxval, found the end of the file"));
    CHECK(contains(decode_error("P6 3 2 255x"), "expected one whitespace byte after maxval, found 'x'"));
    CHECK(contains(decode_error("P6 3 2 # a comment\n"), "the header ends before the maxval"));
    // 60000 x 60000 x 3 samples: refused before allocating 10 GB
    CHECK(contains(decode_error("P6 60000 60000 255\n"), "10800000000 samples, more than the 268435456 accepted"));
}

TEST_CASE("image_file: truncated and over-long rasters, and samples above maxval, are refused") {
    const std::string good = small_ppm();
    for (size_t n = 0; n < good.size(); ++n) {
        const std::string msg = decode_error(good.substr(0, n));
        CHECK_MESSAGE(!msg.empty(), "a file cut to ", n, " bytes was accepted");
    }
    CHECK(contains(decode_error(good.substr(0, good.size() - 1)),
                   "truncated: the header (3x2, RGB, maxval 255) needs 18 bytes of pixels, the file has 17"));
    CHECK(contains(decode_error(good + "zz"), "2 bytes after the 18 bytes of pixels"));
    std::string high = std::string("P5 2 1 100\n") + '\x10' + '\x65';  // 101 > 100
    CHECK(contains(decode_error(high), "sample 1 (row 0, column 1) is 101, above maxval 100"));
    CHECK(contains(decode_error(std::string("P5 1 1 1000\n") + '\x03'), "needs 2 bytes of pixels, the file has 1"));
}

TEST_CASE("image_file: random corruption ends in an image or an error, never a crash") {
    const std::string good = small_ppm("P6\n# comment\n3 2\n255\n");
    Rng rng(5);
    int decoded = 0, refused = 0;
    for (int trial = 0; trial < 3000; ++trial) {
        std::string bytes = good;
        const int64_t flips = 1 + rng.randint(3);
        for (int64_t f = 0; f < flips; ++f) {
            const int64_t at = rng.randint(static_cast<int64_t>(bytes.size()));
            bytes[at] = static_cast<char>(bytes[at] ^ (1 << rng.randint(8)));
        }
        if (rng.randint(4) == 0) bytes.resize(rng.randint(static_cast<int64_t>(bytes.size()) + 1));
        try {
            const Image image = decode_pnm(bytes, "fuzz");
            REQUIRE(static_cast<int64_t>(image.pixels.size()) == image.channels * image.height * image.width);
            ++decoded;
        } catch (const std::runtime_error&) {
            ++refused;
        }
    }
    CHECK(decoded > 0);  // flips in the pixels leave a valid image
    CHECK(refused > 0);
}

TEST_CASE("image_file: grey <-> colour conversion") {
    // luma = 0.299 R + 0.587 G + 0.114 B:  (255, 0, 0) -> 76.2 -> 76;  (10, 200, 30) -> 2.99 + 117.4 + 3.42 = 123.8 -> 124
    const Image rgb{3, 1, 2, {255, 10, 0, 200, 0, 30}};
    CHECK(convert_channels(rgb, 1).pixels == std::vector<uint8_t>{76, 124});
    const Image grey{1, 1, 2, {5, 250}};
    CHECK(convert_channels(grey, 3).pixels == std::vector<uint8_t>{5, 250, 5, 250, 5, 250});
    CHECK(convert_channels(grey, 1).pixels == grey.pixels);
    CHECK(contains(thrown_message([&] { convert_channels(grey, 2); }), "channels 2, expected 1 or 3"));
}

TEST_CASE("image_file: bilinear resize with half-pixel centres, and a box prefilter when shrinking") {
    // 1 x 2 -> 1 x 4: output x samples (x + 0.5) * 2 / 4 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25,
    // 0.75, 1: values 0, 0.75 * 0 + 0.25 * 100 = 25, 75, 100
    const Image row{1, 1, 2, {0, 100}};
    CHECK(resize_bilinear(row, 1, 4).pixels == std::vector<uint8_t>{0, 25, 75, 100});
    // 2 x 2 -> 3 x 3: centre samples (0.5, 0.5): the mean of the four; edges the means of two
    const Image square{1, 2, 2, {0, 40, 80, 120}};
    CHECK(resize_bilinear(square, 3, 3).pixels == std::vector<uint8_t>{0, 20, 40, 40, 60, 80, 80, 100, 120});
    // the same size: unchanged
    CHECK(resize_bilinear(square, 2, 2).pixels == square.pixels);
    // 4 x 4 -> 2 x 2 (factor 2): the mean of each 2 x 2 block
    Image big{1, 4, 4, {}};
    for (int i = 0; i < 16; ++i) big.pixels.push_back(static_cast<uint8_t>(i * 10));
    // blocks: (0,10,40,50) -> 25; (20,30,60,70) -> 45; (80,90,120,130) -> 105; (100,110,140,150) -> 125
    CHECK(resize_bilinear(big, 2, 2).pixels == std::vector<uint8_t>{25, 45, 105, 125});
    // a large constant colour image stays that colour at any size
    Image flat{3, 300, 200, std::vector<uint8_t>(3 * 300 * 200, 77)};
    const Image small = resize_bilinear(flat, 32, 32);
    CHECK(small.channels == 3);
    CHECK(small.pixels == std::vector<uint8_t>(3 * 32 * 32, 77));
    CHECK(contains(thrown_message([&] { resize_bilinear(flat, 0, 3); }), "target 0x3"));
}
