// patchgrad explain: pictures of the ViT's and Swin's geometry, drawn as SVG from the library's own
// functions.
//
//   patchgrad explain patches                          # the SVG on stdout
//   patchgrad explain shift-mask --out docs/img/shift-mask.svg
//
// Each picture feeds a tensor whose values are their own coordinates (element k holds k) through the real
// function (patchify, window_partition, cyclic_shift, shifted_window_mask, relative_position_index,
// patch_merging_gather) and reads back which element landed where: the picture shows what the code does,
// not what a drawing program was told. The hierarchy is drawn from SwinConfig::swin_t().stages(), the
// layout SwinTransformer is built from. `make figures` writes the six into docs/img/, and
// tests/f32/test_explain.cpp fails when one of them is out of date. docs/figures.md tells the story.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "core/io/atomic_file.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/svg.h"
#include "nn/embedding.h"
#include "nn/swin.h"
#include "nn/window.h"

namespace patchgrad::cli {

namespace {

// ---- small helpers -------------------------------------------------------------------------------------

std::string hex_colour(int red, int green, int blue) {
    char text[8];
    std::snprintf(text, sizeof text, "#%02x%02x%02x", red, green, blue);
    return text;
}

// A tensor of `shape` whose element k (row-major) holds k: after any movement op, a value says where it came from.
Tensor numbered(const Shape& shape) {
    Tensor t = Tensor::empty(shape);
    for (int64_t k = 0; k < t.numel(); ++k) t.data()[k] = static_cast<Scalar>(k);
    return t;
}

// The elements of `t` as whole numbers (they are exact in float32 below 2^24).
std::vector<int64_t> whole_numbers(const Tensor& t) {
    std::vector<int64_t> values;
    for (const Scalar value : t.to_vector()) values.push_back(std::llround(value));
    return values;
}

std::string translate(double x, double y) { return "translate(" + format_number(x) + ", " + format_number(y) + ")"; }

std::string coordinates(int64_t row, int64_t column) { return std::to_string(row) + "," + std::to_string(column); }

// 28288354 -> "28,288,354"
std::string with_commas(int64_t value) {
    std::string digits = std::to_string(value), out;
    for (size_t k = 0; k < digits.size(); ++k) {
        if (k > 0 && (digits.size() - k) % 3 == 0) out += ',';
        out += digits[k];
    }
    return out;
}

// "(1, 784, 384)"
std::string shape_text(const Shape& shape) {
    std::string text = "(";
    for (size_t k = 0; k < shape.size(); ++k) text += (k ? ", " : "") + std::to_string(shape[k]);
    return text + ")";
}

// A rectangle with a thin white border and a centred label.
void labelled_cell(Svg& svg, double x, double y, double size, const std::string& fill, const std::string& label,
                   double font_size, const std::string& css_class) {
    svg.rect(x, y, size, size, {.fill = fill, .stroke = "#ffffff", .stroke_width = 1, .css_class = css_class});
    svg.text(x + size / 2, y + size / 2 + font_size * 0.35, label, {.size = font_size, .anchor = "middle"});
}

// The outline of an M x M block of cells (a window) at (x, y).
void outline(Svg& svg, double x, double y, double size, const std::string& colour, double width) {
    svg.rect(x, y, size, size, {.fill = "none", .stroke = colour, .stroke_width = width});
}

// A new picture with its title; finish() adds the caption along the bottom.
Svg start(double width, double height, const std::string& title) {
    Svg svg(width, height);
    svg.text(20, 30, title, {.size = 17, .bold = true});
    return svg;
}

std::string finish(Svg& svg, double height, const std::string& caption) {
    svg.text(20, height - 16, caption, {.size = 12, .fill = "#333333"});
    return svg.str();
}

// Light colours that tell groups apart (windows, merge slots, wrapped tokens), black text readable on each.
constexpr std::array<const char*, 4> kGroupColours = {"#9ecae1", "#fdae6b", "#a1d99b", "#bcbddc"};

// Viridis (matplotlib's default colour map) for t in [0, 1], linear between five of its colours.
std::string viridis(double t) {
    constexpr double anchors[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    const double position = std::clamp(t, 0.0, 1.0) * 4;
    const int low = std::min(3, static_cast<int>(position));
    const double f = position - low;
    int rgb[3];
    for (int k = 0; k < 3; ++k)
        rgb[k] = static_cast<int>(std::lround(anchors[low][k] + f * (anchors[low + 1][k] - anchors[low][k])));
    return hex_colour(rgb[0], rgb[1], rgb[2]);
}

// ---- patches: patchify on a 32 x 32 test image -----------------------------------------------------------

constexpr int64_t kImage = 32, kPatch = 4, kGrid = kImage / kPatch;

// The test image: red grows to the right, blue downwards, and a white ring in the middle, so a patch's
// place and orientation show at a glance. Channel c of pixel (row, column), 0..255.
int test_pattern(int64_t channel, int64_t row, int64_t column) {
    const double distance = std::hypot(row - 15.5, column - 15.5);
    if (distance >= 8 && distance < 11) return 245;
    const int64_t values[3] = {40 + 200 * column / 31, 90, 40 + 200 * row / 31};
    return static_cast<int>(values[channel]);
}

std::string pixel_colour(int64_t row, int64_t column) {
    return hex_colour(test_pattern(0, row, column), test_pattern(1, row, column), test_pattern(2, row, column));
}

std::string draw_patches() {
    // images (1, 3, 32, 32) holding c * 1024 + row * 32 + column; patchify -> (1, 64, 48)
    const std::vector<int64_t> tokens = whole_numbers(patchify(numbered({1, 3, kImage, kImage}), kPatch));
    const int64_t features = 3 * kPatch * kPatch;  // 48 = C * P * P
    const auto source = [&](int64_t token, int64_t feature) { return tokens[token * features + feature]; };
    const int64_t shown = 10;  // the token whose 48 numbers are drawn one by one: it crosses the ring

    const double width = 720, height = 390, pixel = 6, cell = kPatch * pixel, left = 20, top = 50;
    Svg svg = start(width, height, "patchify: a 32x32 image as a sequence of 64 patches of 4x4 pixels");
    for (int64_t r = 0; r < kImage; ++r)
        for (int64_t c = 0; c < kImage; ++c)
            svg.rect(left + c * pixel, top + r * pixel, pixel, pixel, {.fill = pixel_colour(r, c)});
    const Style grid_line{.stroke = "#000000", .stroke_width = 0.5};
    for (int64_t k = 0; k <= kGrid; ++k) {
        svg.line(left + k * cell, top, left + k * cell, top + kImage * pixel, grid_line);
        svg.line(left, top + k * cell, left + kImage * pixel, top + k * cell, grid_line);
    }
    for (int64_t n = 0; n < kGrid * kGrid; ++n) {  // token n's number, on the patch its first pixel came from
        const int64_t i = source(n, 0) / kImage / kPatch, j = source(n, 0) % kImage / kPatch;
        svg.text(left + (j + 0.5) * cell, top + (i + 0.5) * cell + 3, std::to_string(n),
                 {.size = 9, .anchor = "middle", .halo = "#ffffff"});
    }
    outline(svg, left + (shown % kGrid) * cell, top + (shown / kGrid) * cell, cell, "#000000", 2.5);

    const double notes = 236;
    const char* lines[] = {"images (1, 3, 32, 32)  ->  patchify(images, 4)  ->  (1, 64, 48)",
                           "token n = i*8 + j is the 4x4 square whose top-left pixel is (4i, 4j):",
                           "the patches are numbered row by row, as timm numbers them.",
                           "Each token holds its patch's 3*4*4 = 48 pixel values, in (c, u, v) order:"};
    for (int k = 0; k < 4; ++k) svg.text(notes, top + 12 + 18 * k, lines[k], {.size = 12});
    svg.text(notes, top + 100, "token " + std::to_string(shown) + "'s 48 numbers (outlined in the image):",
             {.size = 12, .bold = true});
    for (int64_t f = 0; f < features; ++f) {  // each cell: the channel's value of the pixel patchify put there
        const int64_t value = source(shown, f), channel = value / (kImage * kImage);
        const int level = test_pattern(channel, value % (kImage * kImage) / kImage, value % kImage);
        const int rgb[3] = {channel == 0 ? level : 0, channel == 1 ? level : 0, channel == 2 ? level : 0};
        svg.rect(notes + f * 9, top + 110, 9, 22,
                 {.fill = hex_colour(rgb[0], rgb[1], rgb[2]), .stroke = "#ffffff", .stroke_width = 0.5});
    }
    const char* channel_names[] = {"red: u,v = 0,0 .. 3,3", "green", "blue"};
    for (int c = 0; c < 3; ++c) svg.text(notes + c * 16 * 9, top + 146, channel_names[c], {.size = 10});

    // The sequence: token n drawn from the 16 pixels of channel 0 that patchify put in it.
    const double strip = top + kImage * pixel + 30, tile_pixel = 4, pitch = 20;
    svg.text(left, strip, "the sequence patchify returns, token 0 to 63 (each tile: the pixels it holds)",
             {.size = 12, .bold = true});
    for (int64_t n = 0; n < kGrid * kGrid; ++n) {
        const double x = left + (n % 32) * pitch, y = strip + 10 + (n / 32) * 40;
        svg.begin_group(translate(x, y), "patch");
        for (int64_t f = 0; f < kPatch * kPatch; ++f) {
            const int64_t value = source(n, f);  // channel 0: value = row * 32 + column
            svg.rect((f % kPatch) * tile_pixel, (f / kPatch) * tile_pixel, tile_pixel, tile_pixel,
                     {.fill = pixel_colour(value / kImage, value % kImage)});
        }
        svg.rect(0, 0, kPatch * tile_pixel, kPatch * tile_pixel,
                 {.fill = "none", .stroke = "#888888", .stroke_width = 0.5});
        svg.end_group();
        svg.text(x + 8, y + 27, std::to_string(n), {.size = 8, .anchor = "middle"});
    }
    return finish(svg, height, "Every pixel is drawn where patchify(images, 4) put it, read back from its output "
                               "(patchgrad explain patches).");
}

// ---- windows: window_partition of an 8 x 8 map ---------------------------------------------------------

constexpr int64_t kMap = 8, kWindow = 4, kShift = 2, kTokens = kWindow * kWindow;

std::string draw_windows() {
    // x (1, 8, 8, 1) holding row * 8 + column; window_partition -> (4, 16, 1)
    const std::vector<int64_t> windows = whole_numbers(window_partition(numbered({1, kMap, kMap, 1}), kWindow));
    const double width = 790, height = 420, cell = 40, left = 20, top = 60;
    Svg svg = start(width, height, "window_partition: an 8x8 map cut into four windows of 4x4 tokens");
    svg.text(left, top - 10, "x (1, 8, 8, C): colour = window, number = place in it", {.size = 12});
    for (int64_t w = 0; w < 4; ++w)
        for (int64_t t = 0; t < kTokens; ++t) {
            const int64_t value = windows[w * kTokens + t], r = value / kMap, c = value % kMap;
            labelled_cell(svg, left + c * cell, top + r * cell, cell, kGroupColours[w], std::to_string(t), 14, "token");
            svg.text(left + c * cell + cell / 2, top + r * cell + cell - 4, coordinates(r, c),
                     {.size = 8, .anchor = "middle", .fill = "#555555"});
        }
    for (int64_t w = 0; w < 4; ++w)
        outline(svg, left + (w % 2) * 4 * cell, top + (w / 2) * 4 * cell, 4 * cell, "#000000", 3);

    const double right = 380, small = 21;
    svg.text(right, top - 10, "window_partition(x, 4): (4, 16, C), tokens as row,column of x", {.size = 12});
    for (int64_t t = 0; t < kTokens; ++t)
        svg.text(right + 60 + t * small + small / 2, top + 14, std::to_string(t), {.size = 9, .anchor = "middle"});
    for (int64_t w = 0; w < 4; ++w) {
        const double y = top + 22 + w * 36;
        svg.text(right, y + 15, "window " + std::to_string(w), {.size = 11});
        for (int64_t t = 0; t < kTokens; ++t) {
            const int64_t value = windows[w * kTokens + t];
            labelled_cell(svg, right + 60 + t * small, y, small, kGroupColours[w],
                          coordinates(value / kMap, value % kMap), 7.5, "window-token");
        }
    }
    const char* lines[] = {"The windows come out in row-major order of the window grid,",
                           "the tokens row-major inside each window (timm's order).",
                           "In a Swin block the 4 windows are a batch of 4 sequences of 16 tokens:",
                           "attention runs on (B*nW, N, C) exactly as a ViT's runs on (B, T, C)."};
    for (int k = 0; k < 4; ++k) svg.text(right, top + 200 + 18 * k, lines[k], {.size = 11});
    return finish(svg, height, "Drawn from window_partition's output on a map whose values are their own "
                               "coordinates (patchgrad explain windows).");
}

// ---- shift-mask: cyclic_shift and shifted_window_mask --------------------------------------------------

// What the shift does to a token of the original map: 0 nothing wrapped, 1 its row wrapped to the bottom,
// 2 its column wrapped to the right, 3 both. Inside a shifted window these are exactly the mask's regions.
int64_t wrap_kind(int64_t row, int64_t column) { return (row < kShift ? 1 : 0) + (column < kShift ? 2 : 0); }

void draw_map(Svg& svg, double x, double y, double cell, const std::vector<int64_t>& values, const std::string& label) {
    svg.text(x, y - 10, label, {.size = 12});
    for (int64_t k = 0; k < kMap * kMap; ++k) {
        const int64_t r = values[k] / kMap, c = values[k] % kMap;
        labelled_cell(svg, x + (k % kMap) * cell, y + (k / kMap) * cell, cell, kGroupColours[wrap_kind(r, c)],
                      coordinates(r, c), 9, "token");
    }
    for (int64_t w = 0; w < 4; ++w)
        outline(svg, x + (w % 2) * 4 * cell, y + (w / 2) * 4 * cell, 4 * cell, "#000000", 2.5);
}

std::string draw_shift_mask() {
    const Tensor x = numbered({1, kMap, kMap, 1});  // row * 8 + column
    const std::vector<int64_t> before = whole_numbers(x), after = whole_numbers(cyclic_shift(x, kShift));
    const std::vector<int64_t> mask = whole_numbers(shifted_window_mask(kMap, kMap, kWindow, kShift));  // (4, 16, 16)
    const std::vector<int64_t> shifted_windows = whole_numbers(window_partition(cyclic_shift(x, kShift), kWindow));

    const double width = 760, height = 610, cell = 28, top = 70;
    Svg svg = start(width, height, "cyclic_shift and shifted_window_mask: an 8x8 map, window 4, shift 2");
    draw_map(svg, 20, top, cell, before, "x: each token's row,column");
    svg.text(262, top + 4 * cell + 5, "->", {.size = 16, .anchor = "middle", .bold = true});
    draw_map(svg, 280, top, cell, after, "cyclic_shift(x, 2), then windows of 4x4");
    const char* legend[] = {"stays in place, moved up-left", "row 0 or 1: wrapped to the bottom",
                            "column 0 or 1: wrapped to the right", "both wrapped"};
    for (int k = 0; k < 4; ++k) {
        svg.rect(530, top + 10 + 26 * k, 16, 16, {.fill = kGroupColours[k]});
        svg.text(552, top + 23 + 26 * k, legend[k], {.size = 11});
    }
    svg.text(530, top + 130, "Tokens of different colours in one window", {.size = 11});
    svg.text(530, top + 146, "were not neighbours in the image: the", {.size = 11});
    svg.text(530, top + 162, "mask keeps them from attending.", {.size = 11});

    const double masks_top = top + 8 * cell + 60, pair = 9;
    svg.text(20, masks_top - 28,
             "shifted_window_mask(8, 8, 4, 2): one 16x16 mask per window, query i down, key j across",
             {.size = 12, .bold = true});
    for (int64_t w = 0; w < 4; ++w) {
        const double x = 20 + w * (16 * pair + 36);
        int64_t attending = 0;
        for (int64_t k = 0; k < kTokens * kTokens; ++k) attending += mask[w * kTokens * kTokens + k] == 0;
        svg.text(x, masks_top - 8, "window " + std::to_string(w) + ": " + std::to_string(attending) + " pairs attend",
                 {.size = 11});
        svg.begin_group(translate(x, masks_top), "mask");
        for (int64_t i = 0; i < kTokens; ++i) {
            const int64_t query = shifted_windows[w * kTokens + i];
            for (int64_t j = 0; j < kTokens; ++j) {
                const bool attends = mask[(w * kTokens + i) * kTokens + j] == 0;
                svg.rect(j * pair, i * pair, pair, pair,
                         {.fill = attends ? kGroupColours[wrap_kind(query / kMap, query % kMap)] : "#444444",
                          .css_class = attends ? "attends" : "blocked"});
            }
        }
        svg.end_group();
    }
    const double legend_y = masks_top + 16 * pair + 24;
    svg.rect(20, legend_y - 11, 14, 14, {.fill = "#444444"});
    svg.text(40, legend_y, "-100: blocked (e^-100 after the softmax)", {.size = 11});
    svg.rect(300, legend_y - 11, 14, 14, {.fill = kGroupColours[0]});
    svg.text(320, legend_y, "0: attends (coloured as the query token above)", {.size = 11});
    return finish(svg, height, "Drawn from the output of cyclic_shift and shifted_window_mask (patchgrad explain "
                               "shift-mask).");
}

// ---- relative-index: relative_position_index(4) --------------------------------------------------------

std::string draw_relative_index() {
    const std::vector<int64_t> index = whole_numbers(relative_position_index(kWindow));  // (16, 16)
    const int64_t span = 2 * kWindow - 1, entries = span * span;                            // 7, 49
    const double width = 800, height = 560, cell = 26, left = 60, top = 90;
    Svg svg = start(width, height, "relative_position_index(4): the bias row each pair of tokens reads");
    svg.text(left, top - 30, "index[i][j] for the 16 tokens of a 4x4 window (query i down, key j across)",
             {.size = 12});
    const auto colour_of = [&](int64_t k) { return viridis(static_cast<double>(k) / (entries - 1)); };
    const auto text_colour = [](int64_t k) { return k < 30 ? "#ffffff" : "#000000"; };
    for (int64_t t = 0; t < kTokens; ++t) {
        svg.text(left + t * cell + cell / 2, top - 6, std::to_string(t), {.size = 9, .anchor = "middle"});
        svg.text(left - 6, top + t * cell + cell / 2 + 3, std::to_string(t), {.size = 9, .anchor = "end"});
    }
    std::vector<int64_t> offset_row(entries, -1);  // the table row of each offset, read from the index
    for (int64_t i = 0; i < kTokens; ++i)
        for (int64_t j = 0; j < kTokens; ++j) {
            const int64_t k = index[i * kTokens + j];
            svg.rect(left + j * cell, top + i * cell, cell, cell, {.fill = colour_of(k), .css_class = "entry"});
            svg.text(left + j * cell + cell / 2, top + i * cell + cell / 2 + 3.5, std::to_string(k),
                     {.size = 10, .anchor = "middle", .fill = text_colour(k)});
            const int64_t dy = i / kWindow - j / kWindow, dx = i % kWindow - j % kWindow;
            offset_row[(dy + kWindow - 1) * span + (dx + kWindow - 1)] = k;
        }

    const double right = 530, big = 30;
    svg.text(right, top - 30, "the 49 rows of the bias table, by offset", {.size = 12});
    for (int64_t d = 0; d < span; ++d) {
        svg.text(right + d * big + big / 2, top - 6, std::to_string(d - kWindow + 1), {.size = 9, .anchor = "middle"});
        svg.text(right - 6, top + d * big + big / 2 + 3, std::to_string(d - kWindow + 1), {.size = 9, .anchor = "end"});
    }
    for (int64_t k = 0; k < entries; ++k) {
        svg.rect(right + (k % span) * big, top + (k / span) * big, big, big,
                 {.fill = colour_of(offset_row[k]), .stroke = "#ffffff", .stroke_width = 1, .css_class = "offset"});
        svg.text(right + (k % span) * big + big / 2, top + (k / span) * big + big / 2 + 4,
                 std::to_string(offset_row[k]), {.size = 11, .anchor = "middle", .fill = text_colour(offset_row[k])});
    }
    svg.text(right, top + span * big + 20, "down: dy = yi - yj,  across: dx = xi - xj", {.size = 11});
    svg.text(right, top + span * big + 38, "row = (dy + 3) * 7 + (dx + 3)", {.size = 11});
    svg.text(right, top + span * big + 56, "the diagonal (dy, dx) = (0, 0) reads row 24", {.size = 11});
    return finish(svg, height, "(2M-1)^2 = 49 bias entries per head serve 16*16 = 256 pairs; equal offsets share one "
                               "(patchgrad explain relative-index).");
}

// ---- merge: patch_merging_gather of an 8 x 8 map -------------------------------------------------------

std::string draw_merge() {
    // x (1, 64, 1) holding row * 8 + column; patch_merging_gather -> (1, 16, 4): [x0, x1, x2, x3] per token
    const std::vector<int64_t> merged = whole_numbers(patch_merging_gather(numbered({1, kMap * kMap, 1}), kMap, kMap));
    std::vector<int64_t> slot_of(kMap * kMap, -1);  // which channel block each input token lands in
    for (int64_t m = 0; m < 16; ++m)
        for (int64_t k = 0; k < 4; ++k) slot_of[merged[m * 4 + k]] = k;

    const double width = 760, height = 580, cell = 34, left = 20, top = 70;
    Svg svg = start(width, height, "patch merging: 2x2 neighbours -> one token of 4C -> Linear -> 2C");
    svg.text(left, top - 10, "x (1, 64, C): row,column, coloured by its block", {.size = 12});
    for (int64_t k = 0; k < kMap * kMap; ++k)
        labelled_cell(svg, left + (k % kMap) * cell, top + (k / kMap) * cell, cell, kGroupColours[slot_of[k]],
                      coordinates(k / kMap, k % kMap), 9, "token");
    for (int64_t m = 0; m < 16; ++m)
        outline(svg, left + (m % 4) * 2 * cell, top + (m / 4) * 2 * cell, 2 * cell, "#000000", 2);

    const double right = 340, box = 84, stripe = 17, gap = 6;
    svg.text(right, top - 10, "patch_merging_gather(x, 8, 8): (1, 4*4, 4C)", {.size = 12});
    for (int64_t m = 0; m < 16; ++m) {
        svg.begin_group(translate(right + (m % 4) * (box + gap), top + (m / 4) * (4 * stripe + gap)), "merged");
        for (int64_t k = 0; k < 4; ++k) {
            const int64_t value = merged[m * 4 + k];
            svg.rect(0, k * stripe, box, stripe, {.fill = kGroupColours[k], .stroke = "#ffffff", .stroke_width = 1});
            char label[32];  // "x1: 2,5": channel block k holds token (2, 5)
            std::snprintf(label, sizeof label, "x%d: %d,%d", static_cast<int>(k), static_cast<int>(value / kMap),
                          static_cast<int>(value % kMap));
            svg.text(6, k * stripe + 12, label, {.size = 9});
        }
        svg.end_group();
    }
    const char* legend[] = {"x0 = x[0::2, 0::2]  top-left", "x1 = x[1::2, 0::2]  below it",
                            "x2 = x[0::2, 1::2]  right of it", "x3 = x[1::2, 1::2]  diagonal"};
    for (int k = 0; k < 4; ++k) {
        svg.rect(left + (k % 2) * 300, top + 8 * cell + 22 + (k / 2) * 22, 14, 14, {.fill = kGroupColours[k]});
        svg.text(left + (k % 2) * 300 + 20, top + 8 * cell + 33 + (k / 2) * 22, legend[k], {.size = 11});
    }

    // The layer around the gather, PatchMerging (nn/swin.h), run at Swin-T's first merge: its shapes are
    // read from what the real layer holds and returns.
    const SwinStageLayout first = SwinConfig::swin_t().stages()[0];  // 56x56 tokens, C = 96
    Rng rng(0);
    const PatchMerging merging(first.channels, first.grid, first.grid, 1e-5, rng);
    const Tensor tokens = Tensor::zeros({1, first.grid * first.grid, first.channels});  // (1, 3136, 96)
    const Shape gathered = patch_merging_gather(tokens, first.grid, first.grid).shape();  // (1, 784, 384)
    const Shape reduced = merging.forward(tokens).shape();                                // (1, 784, 192)
    const int64_t C = first.channels, C4 = gathered.back(), C2 = reduced.back(), G = first.grid;
    const double row = top + 8 * cell + 130, unit = 60, bar = 20;
    svg.text(left, row - 46, "PatchMerging (nn/swin.h) then takes each merged token from 4C to 2C channels",
             {.size = 12, .bold = true});
    svg.text(left, row - 28, "shown at Swin-T's first merge: " + std::to_string(G) + "x" + std::to_string(G) +
                                 " tokens of C = " + std::to_string(C) + " -> " + std::to_string(G / 2) + "x" +
                                 std::to_string(G / 2) + " tokens of 2C",
             {.size = 11});
    for (int64_t k = 0; k < 4; ++k) {
        svg.rect(left + k * unit, row, unit, bar,
                 {.fill = kGroupColours[k], .stroke = "#ffffff", .stroke_width = 1, .css_class = "channels-4c"});
        svg.text(left + k * unit + unit / 2, row + 14, "x" + std::to_string(k) + ": " + std::to_string(C),
                 {.size = 10, .anchor = "middle"});
    }
    svg.text(left, row + bar + 16, "4C = " + std::to_string(C4) + ": " + shape_text(gathered), {.size = 11});
    const double arrow = left + 4 * unit + 20, target = arrow + 250, mid = row + bar / 2;
    svg.line(arrow, mid, target - 10, mid, {.stroke = "#000000", .stroke_width = 1.5});
    svg.polyline({{target - 16, mid - 5}, {target - 8, mid}, {target - 16, mid + 5}},
                 {.fill = "none", .stroke = "#000000", .stroke_width = 1.5});
    svg.text(arrow + 120, row - 5, "LayerNorm(" + std::to_string(merging.norm.weight.size(0)) + "), Linear, no bias",
             {.size = 11, .anchor = "middle"});
    svg.text(arrow + 120, row + bar + 16, "reduction.weight " + shape_text(merging.reduction.weight.shape()),
             {.size = 11, .anchor = "middle"});
    svg.rect(target, row, 2 * unit, bar, {.fill = "#cccccc", .stroke = "#ffffff", .stroke_width = 1,
                                          .css_class = "channels-2c"});
    svg.text(target + unit, row + 14, std::to_string(C2), {.size = 10, .anchor = "middle"});
    svg.text(target, row + bar + 16, "2C = " + std::to_string(C2) + ": " + shape_text(reduced), {.size = 11});
    svg.text(left, row + bar + 42, "The Linear mixes the four neighbours' channels; the next stage has half the grid "
                                   "and twice the channels.", {.size = 11});
    return finish(svg, height, "As timm's PatchMerging: [x0, x1, x2, x3] of 4C, then 2C (patchgrad explain merge).");
}

// ---- hierarchy: the four stages of Swin-T --------------------------------------------------------------

// Each stage's grid drawn at the same size, so a token covers 4, 8, 16 then 32 pixels of the image and a
// 7x7 window grows from an eighth of the picture to all of it. The windows are placed where
// window_partition puts them: window w's first token is its top-left corner.
std::string draw_hierarchy() {
    const SwinConfig config = SwinConfig::swin_t();
    const std::vector<SwinStageLayout> stages = config.stages();
    const int64_t unit_channels = config.embed_dim;  // one block of the channel bars: C0 = 96
    const double width = 900, height = 466, panel = 168, gap = 56, left = 20, top = 110;
    const double unit_width = panel / static_cast<double>(stages.back().channels / unit_channels);  // 8 fill a panel
    Svg svg = start(width, height, "Swin-T's four stages: each has half the grid and twice the channels");
    const int64_t S = config.image_size, P = config.patch_size, G0 = stages[0].grid;
    svg.text(left, 56, "images (1, " + std::to_string(config.in_channels) + ", " + std::to_string(S) + ", " +
                           std::to_string(S) + ") -> " + std::to_string(P) +
                           "x" + std::to_string(P) + " patches, Linear to " + std::to_string(config.embed_dim) +
                           " channels, LayerNorm -> (1, " + std::to_string(G0 * G0) + ", " +
                           std::to_string(config.embed_dim) + "): a " + std::to_string(G0) + "x" +
                           std::to_string(G0) + " grid",
             {.size = 12});
    svg.rect(left, 70, 14, 14, {.fill = kGroupColours[0], .stroke = "#000000", .stroke_width = 1.5});
    svg.text(left + 20, 82, "the windows of the W-MSA blocks (window_partition)", {.size = 11});
    svg.line(left + 330, 77, left + 350, 77, {.stroke = "#d62728", .stroke_width = 1.5, .dash = "4 2"});
    svg.text(left + 356, 82, "where the SW-MSA blocks' windows begin: shifted by window/2, the last ones wrap round",
             {.size = 11});
    for (size_t i = 0; i < stages.size(); ++i) {
        const SwinStageLayout& stage = stages[i];
        const int64_t G = stage.grid, M = stage.window, N = M * M;
        const double x = left + static_cast<double>(i) * (panel + gap), token = panel / static_cast<double>(G);
        svg.text(x, top - 8, "stage " + std::to_string(i + 1) + ": " + std::to_string(G) + "x" + std::to_string(G) +
                                 " = " + std::to_string(G * G) + " tokens", {.size = 12, .bold = true});
        const std::vector<int64_t> windows = whole_numbers(window_partition(numbered({1, G, G, 1}), M));  // (nW, N, 1)
        svg.begin_group(translate(x, top), "stage");
        for (int64_t w = 0; w < stage.windows(); ++w) {
            const int64_t corner = windows[w * N], r = corner / G, c = corner % G;
            svg.rect(c * token, r * token, M * token, M * token,
                     {.fill = kGroupColours[(r / M + c / M) % 2], .css_class = "window"});
        }
        const Style token_line{.stroke = "#ffffff", .stroke_width = 0.4};
        for (int64_t k = 1; k < G; ++k) {
            svg.line(k * token, 0, k * token, panel, token_line);
            svg.line(0, k * token, panel, k * token, token_line);
        }
        for (int64_t w = 0; w < stage.windows(); ++w) {
            const int64_t corner = windows[w * N];
            outline(svg, (corner % G) * token, (corner / G) * token, M * token, "#000000", 1.5);
        }
        const Style shifted{.stroke = "#d62728", .stroke_width = 1.5, .dash = "4 2"};
        for (int64_t k = stage.shift; stage.shift > 0 && k < G; k += M) {
            svg.line(k * token, 0, k * token, panel, shifted);
            svg.line(0, k * token, panel, k * token, shifted);
        }
        svg.end_group();

        double y = top + panel + 20;
        svg.text(x, y, "C = " + std::to_string(stage.channels) + ", " + std::to_string(stage.heads) + " heads of " +
                           std::to_string(stage.channels / stage.heads), {.size = 11});
        for (int64_t k = 0; k < stage.channels / unit_channels; ++k)  // one block per 96 channels
            svg.rect(x + k * unit_width, y + 6, unit_width, 14,
                     {.fill = "#9e9ac8", .stroke = "#ffffff", .stroke_width = 1, .css_class = "channels"});
        y += 38;
        svg.text(x, y, std::to_string(stage.windows()) + (stage.windows() == 1 ? " window" : " windows") + " of " +
                           std::to_string(M) + "x" + std::to_string(M) + " = " + std::to_string(N) + " tokens",
                 {.size = 11});
        const int64_t shifted_blocks = stage.depth / 2;
        svg.text(x, y + 16, std::to_string(stage.depth) + " blocks: " + std::to_string(stage.depth - shifted_blocks) +
                                " W-MSA, " + std::to_string(shifted_blocks) + " SW-MSA", {.size = 11});
        svg.text(x, y + 32, stage.shift > 0 ? "SW-MSA shift " + std::to_string(stage.shift)
                                            : "shift 0: one window covers the grid", {.size = 11});
        svg.text(x, y + 48, stage.downsample ? "merge: 4C = " + std::to_string(4 * stage.channels) + " -> 2C = " +
                                                   std::to_string(2 * stage.channels)
                                             : "no merge after the last stage", {.size = 11});
        if (stage.downsample) {  // the arrow to the next stage
            const double from = x + panel + 8, to = x + panel + gap - 8, mid = top + panel / 2;
            svg.line(from, mid, to, mid, {.stroke = "#000000", .stroke_width = 1.5});
            svg.polyline({{to - 6, mid - 5}, {to, mid}, {to - 6, mid + 5}},
                         {.fill = "none", .stroke = "#000000", .stroke_width = 1.5});
            svg.text((from + to) / 2, mid - 8, "merge", {.size = 10, .anchor = "middle"});
            svg.text((from + to) / 2, mid + 16, "2x2", {.size = 10, .anchor = "middle"});
        }
    }
    const SwinStageLayout& last = stages.back();
    svg.text(left, height - 44, "then LayerNorm, the mean over the " + std::to_string(last.grid * last.grid) +
                                    " tokens -> (1, " + std::to_string(last.channels) + "), head -> (1, " +
                                    std::to_string(config.num_classes) + "): " + with_commas(config.parameter_count()) +
                                    " parameters, as torchvision's swin_t",
             {.size = 12});
    return finish(svg, height, "Drawn from SwinConfig::swin_t().stages(), the layout SwinTransformer is built from, "
                               "and window_partition (patchgrad explain hierarchy).");
}

// ---- the command ---------------------------------------------------------------------------------------

struct Topic {
    const char* name;
    std::string (*draw)();
    const char* summary;
};

constexpr Topic kTopics[] = {
    {"patches", draw_patches, "patchify: a 32x32 image cut into 64 patches of 4x4, and the sequence it becomes"},
    {"windows", draw_windows, "window_partition: an 8x8 map cut into four 4x4 windows"},
    {"shift-mask", draw_shift_mask, "cyclic_shift by 2 and the four 16x16 masks of shifted_window_mask"},
    {"relative-index", draw_relative_index, "relative_position_index(4): 16x16 pairs reading 49 bias rows"},
    {"merge", draw_merge, "patch merging: which 4 tokens each merged token concatenates, then 4C -> 2C"},
    {"hierarchy", draw_hierarchy, "Swin-T's four stages: grids 56, 28, 14, 7, channels 96 to 768, windows"},
};

std::string topic_names() {
    std::string names;
    for (const Topic& topic : kTopics) names += (names.empty() ? "" : ", ") + std::string(topic.name);
    return names;
}

}  // namespace

int run_explain(int argc, char** argv) {
    std::string summary = "An SVG picture of what one of the library's geometry functions does, computed by calling "
                          "it.\nThe same topic always gives the same bytes. Topics:\n";
    for (const Topic& topic : kTopics)
        summary += "  " + std::string(topic.name) + std::string(16 - std::string(topic.name).size(), ' ') +
                   topic.summary + (&topic == &kTopics[std::size(kTopics) - 1] ? "" : "\n");
    std::vector<std::string> words;
    std::string out;
    ArgParser args("patchgrad explain", summary);
    args.positionals("TOPIC", &words, "one of " + topic_names(), 1);
    args.option("--out", &out, "write the SVG into this file instead of stdout");
    if (!args.parse(argc, argv)) return 0;
    if (words.empty()) throw UsageError("patchgrad explain: which TOPIC? one of " + topic_names() + " (see --help)");
    for (const Topic& topic : kTopics) {
        if (words[0] != topic.name) continue;
        const std::string svg = topic.draw();
        if (out.empty())
            std::cout << svg << std::flush;
        else
            write_file_atomically(out, svg);
        return 0;
    }
    throw UsageError("patchgrad explain: unknown topic '" + words[0] + "' (topics: " + topic_names() + ")");
}

}  // namespace patchgrad::cli
