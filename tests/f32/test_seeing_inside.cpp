// The tools that look inside a model (examples/cli/png.cpp, attention.cpp, graph.cpp; docs/seeing_inside.md):
// the PNG writer against known checksums and its own strict reader (corruptions are refused by name); the
// attention rollout and the patch relevance on matrices worked out by hand; the attention pictures of a
// tiny ViT (CLS and mean pooling) and a tiny Swin, rendered from a checkpoint made here, well-formed and
// not blank; and the autograd graph of a tiny ViT and Swin: the expected ops, balanced braces, every edge
// between declared nodes.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cmath>
#include <set>
#include <sstream>

#include "core/io/atomic_file.h"
#include "datasets/image_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/seeing_inside.h"
#include "tests/helpers.h"
#include "tests/run_command.h"
#include "tests/temp_files.h"

using namespace patchgrad;
using namespace patchgrad::cli;
using testing::TempDir;
using testing::run_command;

namespace {

// A checkpoint of `config`'s freshly initialised model, as train would save one.
void save_tiny_checkpoint(const std::string& path, const TrainConfig& config) {
    Rng rng(static_cast<uint64_t>(config.seed));
    const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    TrainingState state;
    state.data_rng = Rng(1).state();
    state.model_rng = Rng(2).state();
    std::vector<std::string> names;
    for (int64_t k = 0; k < config.num_classes; ++k) names.push_back("class" + std::to_string(k));
    save_checkpoint(path, config, state, names, *model, nullptr);
}

// An image with structure: a bright square on a dark gradient, (C, S, S) bytes.
std::vector<uint8_t> test_pixels(int64_t C, int64_t S) {
    std::vector<uint8_t> pixels(static_cast<size_t>(C * S * S));
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < S; ++y)
            for (int64_t x = 0; x < S; ++x) {
                const bool square = y >= S / 4 && y < S / 2 && x >= S / 2 && x < 3 * S / 4;
                pixels[(c * S + y) * S + x] = static_cast<uint8_t>(square ? 230 - 30 * c : 4 * x + 2 * y);
            }
    return pixels;
}

// The variance of the samples of panel `index` (a row of square panels, 6 pixels apart).
double panel_variance(const PngImage& png, int64_t index, int64_t panel) {
    double sum = 0, sum_sq = 0, n = 0;
    for (int64_t y = 6; y < 6 + panel; ++y)
        for (int64_t x = 6 + index * (panel + 6); x < 6 + index * (panel + 6) + panel; ++x)
            for (int64_t c = 0; c < png.channels; ++c) {
                const double v = png.pixels[(y * png.width + x) * png.channels + c];
                sum += v;
                sum_sq += v * v;
                ++n;
            }
    return sum_sq / n - (sum / n) * (sum / n);
}

bool panels_differ(const PngImage& png, int64_t a, int64_t b, int64_t panel) {
    for (int64_t y = 6; y < 6 + panel; ++y)
        for (int64_t x = 0; x < panel * png.channels; ++x) {
            const int64_t row = y * png.width * png.channels;
            if (png.pixels[row + (6 + a * (panel + 6)) * png.channels + x] !=
                png.pixels[row + (6 + b * (panel + 6)) * png.channels + x])
                return true;
        }
    return false;
}

// A PNG of `panels` panels of side `panel`, read back with the strict reader; no panel is blank, and the
// heat maps differ from the image.
PngImage check_picture(const std::string& path, int64_t panels, int64_t panel) {
    const PngImage png = read_png(path);  // signature, every chunk's CRC, IHDR, zlib, Adler-32, sizes
    CHECK(png.channels == 3);
    CHECK(png.width == 6 + panels * (panel + 6));
    CHECK(png.height == panel + 12);
    for (int64_t i = 0; i < panels; ++i) CHECK_MESSAGE(panel_variance(png, i, panel) > 1, "panel ", i, " is blank");
    for (int64_t i = 1; i < panels; ++i) CHECK_MESSAGE(panels_differ(png, 0, i, panel), "panel ", i, " is the image");
    return png;
}

}  // namespace

// ---- PNG ----------------------------------------------------------------------------------------------------

TEST_CASE("png: Adler-32 and zlib stored blocks, against known values") {
    CHECK(adler32("Wikipedia") == 0x11E60398u);  // RFC 1950's algorithm; the Wikipedia article's example
    CHECK(adler32("") == 1u);
    // "abc" in one stored block: 78 01 | 01 | 03 00 fc ff | 61 62 63 | Adler-32 024d0127
    CHECK(zlib_stored("abc") == std::string("\x78\x01\x01\x03\x00\xfc\xff" "abc" "\x02\x4d\x01\x27", 14));
    // 150,000 bytes take three blocks (65535 + 65535 + 18930); only the last has BFINAL set
    std::string big(150000, '\0');
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 7 % 251);
    const std::string stream = zlib_stored(big);
    CHECK(stream.size() == 2 + 3 * 5 + big.size() + 4);
    CHECK(stream[2] == '\0');
    CHECK(stream[2 + 5 + 65535] == '\0');
    CHECK(stream[2 + 2 * (5 + 65535)] == '\x01');
    CHECK(zlib_unstored(stream, "test") == big);
}

TEST_CASE("png: an RGB and a grey image round-trip; the bytes are those of the specification") {
    PngImage rgb;
    rgb.width = 3;
    rgb.height = 2;
    rgb.pixels = {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30, 40, 50, 60, 70, 80, 90};
    rgb.text = {{"Description", "two rows"}};
    const std::string bytes = encode_png(rgb);
    CHECK(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    // IHDR: length 13, "IHDR", width 3, height 2, depth 8, colour type 2, 0, 0, 0, then its CRC
    CHECK(bytes.substr(8, 8 + 13) == std::string("\0\0\0\x0dIHDR\0\0\0\x03\0\0\0\x02\x08\x02\0\0\0", 21));
    CHECK(bytes.substr(bytes.size() - 12) == std::string("\0\0\0\0IEND\xae\x42\x60\x82", 12));  // IEND's CRC
    const PngImage back = decode_png(bytes, "rgb");
    CHECK(back.width == 3);
    CHECK(back.height == 2);
    CHECK(back.channels == 3);
    CHECK(back.pixels == rgb.pixels);
    REQUIRE(back.text.size() == 1);
    CHECK(back.text[0].second == "two rows");

    PngImage grey;
    grey.width = 400;  // 400 x 200 + a filter byte per row: 80,200 bytes, two stored blocks
    grey.height = 200;
    grey.channels = 1;
    grey.pixels.resize(400 * 200);
    for (size_t i = 0; i < grey.pixels.size(); ++i) grey.pixels[i] = static_cast<uint8_t>(i % 253);
    const PngImage grey_back = decode_png(encode_png(grey), "grey");
    CHECK(grey_back.channels == 1);
    CHECK(grey_back.pixels == grey.pixels);
}

TEST_CASE("png: the reader refuses corruptions, naming what is wrong") {
    PngImage image;
    image.width = image.height = 4;
    image.pixels.assign(48, 7);
    const std::string good = encode_png(image);
    std::string flipped = good;
    flipped[good.find("IDAT") + 12] ^= 1;  // a byte of the image data: the IDAT chunk's CRC no longer fits
    CHECK(contains(thrown_message([&] { decode_png(flipped, "f.png"); }), "f.png: chunk 'IDAT' at byte"));
    CHECK(contains(thrown_message([&] { decode_png(flipped, "f.png"); }), ": CRC "));
    CHECK(contains(thrown_message([&] { decode_png(good.substr(0, good.size() - 12), "t.png"); }),
                   "t.png: file ends at byte"));
    CHECK(contains(thrown_message([&] { decode_png("GIF89a..", "g.png"); }), "not a PNG file"));
    std::string bad_len = zlib_stored("abc");
    bad_len[5] = 0;  // NLEN no longer the complement of LEN
    CHECK(contains(thrown_message([&] { zlib_unstored(bad_len, "z"); }), "LEN 3 and NLEN"));
    std::string bad_sum = zlib_stored("abc");
    bad_sum.back() ^= 1;
    CHECK(contains(thrown_message([&] { zlib_unstored(bad_sum, "z"); }), "z: Adler-32 is"));
    CHECK(contains(thrown_message([&] { encode_png(PngImage{2, 2, 3, {1, 2, 3}, {}}); }), "3 samples for a 2x2x3"));
}

// ---- the math -----------------------------------------------------------------------------------------------

TEST_CASE("attention rollout and patch relevance, by hand") {
    // Two heads, T = 2. Head 0 [[1, 0], [0.5, 0.5]], head 1 [[0, 1], [0.5, 0.5]]: their mean A = [[0.5, 0.5],
    // [0.5, 0.5]]; Â = (A + I) / 2 = [[0.75, 0.25], [0.25, 0.75]].
    const Tensor block = Tensor::from_vector({1, 0, 0.5, 0.5, 0, 1, 0.5, 0.5}, {1, 2, 2, 2});
    const std::vector<double> one = attention_rollout({block});
    CHECK(one == std::vector<double>{0.75, 0.25, 0.25, 0.75});
    // Two such blocks: Â · Â = [[0.75^2 + 0.25^2, 2 * 0.75 * 0.25], ...] = [[0.625, 0.375], [0.375, 0.625]]
    const std::vector<double> two = attention_rollout({block, block});
    CHECK(two == std::vector<double>{0.625, 0.375, 0.375, 0.625});
    // The order matters: R = Â_1 · Â_0. With Â_0 as above and block 1 all on token 0 (A_1 = [[1, 0], [1, 0]],
    // Â_1 = [[1, 0], [0.5, 0.5]]): R = [[0.75, 0.25], [0.5, 0.5]] (the other order gives [[0.875, 0.125], ...]).
    const Tensor to_first = Tensor::from_vector({1, 0, 1, 0}, {1, 1, 2, 2});
    CHECK(attention_rollout({block, to_first}) == std::vector<double>{0.75, 0.25, 0.5, 0.5});

    // T = 3 with a CLS token: the CLS row over the two patches; without, the column means.
    const std::vector<double> m = {0.2, 0.3, 0.5, 0.1, 0.6, 0.3, 0.4, 0.4, 0.2};
    CHECK(patch_relevance(m, 3, true) == std::vector<double>{0.3, 0.5});
    const std::vector<double> mean = patch_relevance(m, 3, false);  // (0.2+0.1+0.4)/3, (0.3+0.6+0.4)/3, (0.5+0.3+0.2)/3
    REQUIRE(mean.size() == 3);
    CHECK(std::abs(mean[0] - 0.7 / 3) < 1e-12);
    CHECK(std::abs(mean[1] - 1.3 / 3) < 1e-12);
    CHECK(std::abs(mean[2] - 1.0 / 3) < 1e-12);
    CHECK(contains(thrown_message([&] { mean_over_heads(Tensor::zeros({2, 2, 3, 3})); }), "expected (1, H, T, T)"));
}

// ---- the pictures -------------------------------------------------------------------------------------------

TEST_CASE("attention: a tiny ViT's picture (CLS, then mean pooling) is well-formed and not blank") {
    TempDir dir;
    TrainConfig config = tiny_config("vit");  // 32 x 32, patch 8: a 4 x 4 grid, 2 heads, 2 blocks
    const std::string ckpt = dir.file("vit.safetensors"), image = dir.file("image.ppm"), out = dir.file("vit.png");
    save_tiny_checkpoint(ckpt, config);
    write_pnm(image, Image{3, 32, 32, test_pixels(3, 32)});
    CHECK(run_command(run_attention, {"patchgrad", "attention", "--checkpoint", ckpt, image, "--out", out}) == 0);
    // 4 panels (image, head 0, head 1, rollout), each 32 x 4 = 128 pixels
    const PngImage png = check_picture(out, 4, 128);
    REQUIRE(png.text.size() == 2);
    CHECK(contains(png.text[0].second, "the CLS token's attention"));
    CHECK(panels_differ(png, 1, 3, 128));  // the last block's head 0 is not the rollout

    config.pool = "mean";
    Rng rng(5);
    const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
    model->eval();
    const Tensor input = Tensor::normal({1, 3, 32, 32}, 0, 1, rng);
    const AttentionPicture picture = render_attention(*model, config, input, test_pixels(3, 32), -1);
    CHECK(contains(picture.caption, "mean pooling: no CLS token"));
    CHECK(picture.logits.shape() == Shape{1, 10});
    write_png(dir.file("mean.png"), picture.png);
    check_picture(dir.file("mean.png"), 4, 128);
}

TEST_CASE("attention: grey images (MNIST's 28 x 28, shown 5 times larger), ViT and Swin") {
    TempDir dir;
    for (const char* kind : {"vit", "swin"}) {
        const TrainConfig config = tiny_config(kind, "mnist");
        Rng rng(6);
        const std::unique_ptr<ImageClassifier> model = build_model(config, rng);
        model->eval();
        const Tensor input = Tensor::normal({1, 1, 28, 28}, 0, 1, rng);
        const AttentionPicture picture = render_attention(*model, config, input, test_pixels(1, 28), -1);
        write_png(dir.file(std::string(kind) + ".png"), picture.png);
        check_picture(dir.file(std::string(kind) + ".png"), kind == std::string("vit") ? 4 : 2, 140);
    }
}

TEST_CASE("attention: a tiny Swin's window picture is well-formed, not blank, with the grid drawn") {
    TempDir dir;
    const TrainConfig config = tiny_config("swin");  // 32 x 32, patch 4: 8 x 8 tokens, windows of 4, shift 2
    const std::string ckpt = dir.file("swin.safetensors"), image = dir.file("image.ppm");
    save_tiny_checkpoint(ckpt, config);
    write_pnm(image, Image{3, 32, 32, test_pixels(3, 32)});
    for (const std::string block : {"", "0", "2"}) {
        const std::string out = dir.file("swin" + block + ".png");
        std::vector<std::string> words = {"patchgrad", "attention", "--checkpoint", ckpt, image, "--out", out};
        if (!block.empty()) words.insert(words.end(), {"--block", block});
        CHECK(run_command(run_attention, words) == 0);
        const PngImage png = check_picture(out, 2, 128);
        // Block 1 (the default) is shifted by 2 tokens = 32 panel pixels: a cyan line at x = 32 of panel 1,
        // none at x = 64 (the unshifted border); block 0 has it at 64 and not at 32.
        const auto cyan = [&](int64_t x) {
            const uint8_t* p = png.pixels.data() + ((6 + 10) * png.width + 6 + 134 + x) * 3;
            return p[0] == 0 && p[1] == 255 && p[2] == 255;
        };
        const std::string caption = png.text.at(0).second;
        if (block.empty()) {
            CHECK(contains(caption, "block 1 (stage 0 block 1, shifted windows, shift 2"));
            CHECK(cyan(32));
            CHECK(!cyan(64));
        } else if (block == "0") {
            CHECK(contains(caption, "plain windows"));
            CHECK(cyan(64));
            CHECK(!cyan(32));
        } else {
            CHECK(contains(caption, "stage 1 block 0"));  // a 4 x 4 grid in one window
        }
    }
    CHECK_THROWS_AS(run_command(run_attention, {"patchgrad", "attention", "--checkpoint", ckpt, image, "--block", "4"}),
                    UsageError);
    CHECK(contains(thrown_message([&] {
                       run_command(run_attention, {"patchgrad", "attention", "--checkpoint", ckpt, "--out", "x.png"});
                   }),
                   "give either an IMAGE or --index N"));
}

// ---- the autograd graph -------------------------------------------------------------------------------------

namespace {

// Balanced braces, every edge between declared nodes; returns the set of node labels' op names.
std::set<std::string> check_dot(const std::string& dot) {
    int depth = 0;
    for (char ch : dot) {
        depth += ch == '{' ? 1 : ch == '}' ? -1 : 0;
        CHECK(depth >= 0);
    }
    CHECK(depth == 0);
    CHECK(dot.rfind("digraph autograd {\n", 0) == 0);
    std::set<std::string> declared, ops;
    size_t edges = 0;
    std::istringstream lines(dot);
    for (std::string line; std::getline(lines, line);) {
        const size_t arrow = line.find(" -> ");
        if (arrow != std::string::npos) {
            const std::string from = line.substr(2, arrow - 2), to = line.substr(arrow + 4, line.size() - arrow - 5);
            CHECK_MESSAGE(declared.count(from), "edge from undeclared ", from);
            CHECK_MESSAGE(declared.count(to), "edge to undeclared ", to);
            CHECK(line.back() == ';');
            ++edges;
        } else if (line.find(" [label=\"") != std::string::npos) {
            declared.insert(line.substr(2, line.find(' ', 2) - 2));
            const size_t begin = line.find("label=\"") + 7;
            ops.insert(line.substr(begin, line.find("\\n", begin) - begin));
        }
    }
    CHECK(edges >= declared.size() - 1);  // connected: every node but the loss feeds some op
    return ops;
}

}  // namespace

TEST_CASE("graph: a tiny ViT's and Swin's training graphs name their ops and are well-formed DOT") {
    const std::set<std::string> vit = check_dot(training_graph_dot(tiny_config("vit")));
    for (const char* op : {"parameter", "input", "linear", "layer_norm", "concat", "gelu", "cross_entropy"})
        CHECK_MESSAGE(vit.count(op), (std::string("the ViT graph has no '") + op + "'"));
    const std::set<std::string> swin = check_dot(training_graph_dot(tiny_config("swin")));
    for (const char* op : {"index_select", "mean", "cross_entropy"})
        CHECK_MESSAGE(swin.count(op), (std::string("the Swin graph has no '") + op + "'"));

    // the attention op ("scaled_dot_product_attention", or a fused "multi_head_attention")
    const auto has_attention = [](const std::set<std::string>& ops) {
        return std::any_of(ops.begin(), ops.end(), [](const std::string& op) { return contains(op, "attention"); });
    };
    CHECK(has_attention(vit));
    CHECK(has_attention(swin));

    TempDir dir;
    CHECK(run_command(run_graph, {"patchgrad", "graph", "--model", "vit", "--tiny", "--out", dir.file("g.dot")}) == 0);
    CHECK(read_file(dir.file("g.dot"), 1 << 20) == training_graph_dot(tiny_config("vit")));  // deterministic
}
