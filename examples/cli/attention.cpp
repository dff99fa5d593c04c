// patchgrad attention: what a checkpoint's model looks at in one image, as a PNG (docs/seeing_inside.md).
//
//   patchgrad attention --checkpoint runs/default/best.safetensors --index 7 --out cat.png
//   patchgrad attention --checkpoint runs/swin/best.safetensors cat.ppm --block 1
//
// ViT: panels left to right, each the image upscaled (nearest neighbour) to about 128 pixels:
//   the input | the last block's attention from the CLS token to each patch, one panel per head |
//   the attention rollout over all blocks (attention_rollout, seeing_inside.h, has the math)
// With mean pooling there is no CLS token: a panel shows the mean attention each patch receives.
// Swin: the input | for the chosen block, how much each token is attended to inside its window (the
// window attention averaged over heads and over the window's queries), with the window grid drawn on top.
// A heat map is blended over a grey copy of the image; colours run dark purple (least) -> yellow (most),
// each panel scaled to its own min..max. The caption (stdout and the PNG's "Description") says it in words.
#include <algorithm>
#include <cmath>
#include <cstdio>

#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/ops.h"
#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/cli/input_image.h"
#include "examples/cli/seeing_inside.h"

namespace patchgrad::cli {

// ---- the math -------------------------------------------------------------------------------------------

std::vector<double> mean_over_heads(const Tensor& attention) {
    check(attention.dim() == 4 && attention.size(0) == 1 && attention.size(2) == attention.size(3),
          "mean_over_heads: attention ", attention.shape(), ", expected (1, H, T, T)");
    const int64_t H = attention.size(1), T = attention.size(2);
    std::vector<double> mean(static_cast<size_t>(T * T), 0.0);
    for (int64_t h = 0; h < H; ++h)
        for (int64_t i = 0; i < T * T; ++i) mean[i] += attention.data()[h * T * T + i] / static_cast<double>(H);
    return mean;
}

std::vector<double> attention_rollout(const std::vector<Tensor>& attention) {
    check(!attention.empty(), "attention_rollout: no blocks");
    const int64_t T = attention[0].size(-1);
    std::vector<double> rollout(static_cast<size_t>(T * T), 0.0);  // R = I before the first block
    for (int64_t i = 0; i < T; ++i) rollout[i * T + i] = 1;
    for (const Tensor& block : attention) {
        std::vector<double> a = mean_over_heads(block);  // A_l (T, T)
        check(static_cast<int64_t>(a.size()) == T * T, "attention_rollout: blocks of different token counts");
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) a[i * T + j] = (a[i * T + j] + (i == j ? 1.0 : 0.0)) / 2;  // Â_l
        std::vector<double> next(static_cast<size_t>(T * T), 0.0);  // Â_l · R
        for (int64_t i = 0; i < T; ++i)
            for (int64_t k = 0; k < T; ++k)
                for (int64_t j = 0; j < T; ++j) next[i * T + j] += a[i * T + k] * rollout[k * T + j];
        rollout = std::move(next);
    }
    return rollout;
}

std::vector<double> patch_relevance(const std::vector<double>& matrix, int64_t T, bool has_cls) {
    check(static_cast<int64_t>(matrix.size()) == T * T, "patch_relevance: ", matrix.size(), " values for T = ", T);
    const int64_t first = has_cls ? 1 : 0, N = T - first;
    std::vector<double> relevance(static_cast<size_t>(N), 0.0);
    for (int64_t n = 0; n < N; ++n) {
        if (has_cls) {
            relevance[n] = matrix[first + n];  // row 0 (CLS), column 1 + n
        } else {
            for (int64_t i = 0; i < T; ++i) relevance[n] += matrix[i * T + n] / static_cast<double>(T);
        }
    }
    return relevance;
}

// ---- drawing --------------------------------------------------------------------------------------------

namespace {

constexpr int64_t kPanelTarget = 128;  // pixels: the image is upscaled by a whole factor to about this
constexpr int64_t kGap = 6;            // white pixels around and between the panels

// A row of equal square panels on white.
struct Canvas {
    PngImage png;
    int64_t panel;  // a panel's side in pixels

    Canvas(int64_t panels, int64_t panel_side) : panel(panel_side) {
        png.width = kGap + panels * (panel + kGap);
        png.height = 2 * kGap + panel;
        png.channels = 3;
        png.pixels.assign(static_cast<size_t>(png.width * png.height * 3), 255);
    }
    int64_t left(int64_t index) const { return kGap + index * (panel + kGap); }
    uint8_t* at(int64_t x, int64_t y) { return png.pixels.data() + (y * png.width + x) * 3; }
};

// The "inferno" colour map, sampled at 5 stops and interpolated linearly: 0 dark purple ... 1 pale yellow.
void heat_colour(double v, double rgb[3]) {
    static const double stops[5][3] = {{0, 0, 4}, {87, 16, 110}, {188, 55, 84}, {249, 142, 9}, {252, 255, 164}};
    const double x = std::clamp(v, 0.0, 1.0) * 4;
    const int i = std::min(3, static_cast<int>(x));
    for (int c = 0; c < 3; ++c) rgb[c] = stops[i][c] + (x - i) * (stops[i + 1][c] - stops[i][c]);
}

// Scaled to [0, 1] by the values' own min and max; all equal -> all 0.
std::vector<double> min_max_scaled(std::vector<double> values) {
    const auto [low, high] = std::minmax_element(values.begin(), values.end());
    const double lo = *low, range = *high - *low;
    for (double& v : values) v = range > 0 ? (v - lo) / range : 0.0;
    return values;
}

// The image's sample at image pixel (y, x) as RGB (grey repeated).
void image_rgb(const std::vector<uint8_t>& pixels, int64_t C, int64_t S, int64_t y, int64_t x, double rgb[3]) {
    for (int64_t c = 0; c < 3; ++c) rgb[c] = pixels[(std::min(c, C - 1) * S + y) * S + x];
}

// The image, nearest-neighbour upscaled, into panel `index`.
void draw_image(Canvas& canvas, int64_t index, const std::vector<uint8_t>& pixels, int64_t C, int64_t S) {
    const int64_t scale = canvas.panel / S;
    for (int64_t y = 0; y < canvas.panel; ++y)
        for (int64_t x = 0; x < canvas.panel; ++x) {
            double rgb[3];
            image_rgb(pixels, C, S, y / scale, x / scale, rgb);
            uint8_t* out = canvas.at(canvas.left(index) + x, kGap + y);
            for (int c = 0; c < 3; ++c) out[c] = static_cast<uint8_t>(rgb[c]);
        }
}

// A heat map over a g x g token grid (values row-major, any range), each token `cell` image pixels
// square, blended over a grey copy of the image: 35% image, 65% heat colour.
void draw_heat(Canvas& canvas, int64_t index, const std::vector<uint8_t>& pixels, int64_t C, int64_t S,
               const std::vector<double>& values, int64_t g, int64_t cell) {
    const std::vector<double> heat = min_max_scaled(values);
    const int64_t scale = canvas.panel / S;
    for (int64_t y = 0; y < canvas.panel; ++y)
        for (int64_t x = 0; x < canvas.panel; ++x) {
            const int64_t iy = y / scale, ix = x / scale;
            double rgb[3], colour[3];
            image_rgb(pixels, C, S, iy, ix, rgb);
            const double grey = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2];
            heat_colour(heat[std::min(iy / cell, g - 1) * g + std::min(ix / cell, g - 1)], colour);
            uint8_t* out = canvas.at(canvas.left(index) + x, kGap + y);
            for (int c = 0; c < 3; ++c) out[c] = static_cast<uint8_t>(std::lround(0.35 * grey + 0.65 * colour[c]));
        }
}

// Cyan lines across panel `index` at token rows and columns `(k * M + shift) mod g` (window borders in
// image coordinates), and along the panel's far edges.
void draw_window_grid(Canvas& canvas, int64_t index, int64_t g, int64_t M, int64_t shift, int64_t token_pixels) {
    std::vector<int64_t> lines;  // in panel pixels
    for (int64_t k = 0; k < g / M; ++k) lines.push_back((k * M + shift) % g * token_pixels);
    lines.push_back(canvas.panel - 1);
    for (int64_t line : lines)
        for (int64_t t = 0; t < canvas.panel; ++t) {
            uint8_t* vertical = canvas.at(canvas.left(index) + line, kGap + t);
            uint8_t* horizontal = canvas.at(canvas.left(index) + t, kGap + line);
            for (uint8_t* p : {vertical, horizontal}) {
                p[0] = 0;
                p[1] = 255;
                p[2] = 255;
            }
        }
}

// ---- the two kinds of model ------------------------------------------------------------------------------

AttentionPicture vit_picture(const VisionTransformer& vit, const TrainConfig& config, const Tensor& input,
                             const std::vector<uint8_t>& pixels) {
    Rng unused(0);
    std::vector<Tensor> attention;  // per block (1, H, T, T)
    AttentionPicture picture;
    picture.logits = vit.forward(input, unused, &attention);
    const ViTConfig& v = vit.config();
    const int64_t S = v.image_size, g = S / v.patch_size, T = attention.back().size(-1), H = v.heads;
    const bool has_cls = v.pooling == Pooling::cls;

    Canvas canvas(H + 2, S * std::max<int64_t>(1, (kPanelTarget + S - 1) / S));
    draw_image(canvas, 0, pixels, v.in_channels, S);
    const Tensor& last = attention.back();
    for (int64_t h = 0; h < H; ++h) {
        const std::vector<double> head(last.data() + h * T * T, last.data() + (h + 1) * T * T);
        draw_heat(canvas, 1 + h, pixels, v.in_channels, S, patch_relevance(head, T, has_cls), g, v.patch_size);
    }
    draw_heat(canvas, H + 1, pixels, v.in_channels, S, patch_relevance(attention_rollout(attention), T, has_cls), g,
              v.patch_size);
    const std::string reads = has_cls ? "the CLS token's attention to each patch"
                                      : "the mean attention each patch receives (mean pooling: no CLS token)";
    picture.caption = format_message("ViT, ", config.dataset, ", ", g, "x", g, " patches of ", v.patch_size, "x",
                                     v.patch_size, ". Panels left to right: the input; ", reads, " in the last block (",
                                     v.depth - 1, "), heads 0..", H - 1, "; the attention rollout over all ", v.depth,
                                     " blocks (Abnar & Zuidema 2020). Dark purple = least, yellow = most, each panel "
                                     "scaled to its own range.");
    picture.png = std::move(canvas.png);
    return picture;
}

struct SwinBlockRef {
    int64_t stage, index;
    const SwinBlock* block;
};

AttentionPicture swin_picture(const SwinTransformer& swin, const TrainConfig& config, const Tensor& input,
                              const std::vector<uint8_t>& pixels, int64_t block) {
    std::vector<SwinBlockRef> blocks;  // every block of every stage, in forward order
    for (size_t s = 0; s < swin.layers.size(); ++s)
        for (size_t j = 0; j < swin.layers[s].blocks.size(); ++j)
            blocks.push_back({static_cast<int64_t>(s), static_cast<int64_t>(j), &swin.layers[s].blocks[j]});
    const int64_t count = static_cast<int64_t>(blocks.size());
    if (block < 0) {  // the first shifted block of stage 0, else block 0
        block = 0;
        for (int64_t b = 0; b < count && blocks[b].stage == 0; ++b)
            if (blocks[b].block->shift() > 0) {
                block = b;
                break;
            }
    }
    check(block < count, "--block ", block, ": the model has ", count, " blocks (0..", count - 1, ")");

    Rng unused(0);
    std::vector<Tensor> attention;  // per block (nW, nH, N, N) for one image
    AttentionPicture picture;
    picture.logits = swin.forward(input, unused, &attention);
    const SwinConfig& c = swin.config();
    const SwinBlockRef& ref = blocks[block];
    const int64_t S = c.image_size, token_pixels = c.patch_size << ref.stage, g = S / token_pixels;
    const int64_t M = ref.block->window_size(), shift = ref.block->shift(), windows_per_row = g / M, N = M * M;
    const Tensor& a = attention[block];
    const int64_t nW = a.size(0), nH = a.size(1);
    check(nW == windows_per_row * windows_per_row && a.size(2) == N, "attention: block ", block, " gave ", a.shape(),
          ", expected (", windows_per_row * windows_per_row, ", nH, ", N, ", ", N, ")");

    // attended[y][x]: token (y, x) of the unshifted grid, the mean over heads and queries of its column
    std::vector<double> attended(static_cast<size_t>(g * g), 0.0);
    for (int64_t w = 0; w < nW; ++w)
        for (int64_t key = 0; key < N; ++key) {
            double sum = 0;
            for (int64_t h = 0; h < nH; ++h)
                for (int64_t query = 0; query < N; ++query) sum += a.data()[((w * nH + h) * N + query) * N + key];
            const int64_t row = (w / windows_per_row) * M + key / M, col = (w % windows_per_row) * M + key % M;
            // the block rolled the grid by (-shift, -shift): shifted (row, col) is original (row + shift, col + shift)
            attended[((row + shift) % g) * g + (col + shift) % g] = sum / static_cast<double>(nH * N);
        }

    Canvas canvas(2, S * std::max<int64_t>(1, (kPanelTarget + S - 1) / S));
    draw_image(canvas, 0, pixels, c.in_channels, S);
    draw_heat(canvas, 1, pixels, c.in_channels, S, attended, g, token_pixels);
    draw_window_grid(canvas, 1, g, M, shift, canvas.panel / g);
    picture.caption = format_message(
        "Swin, ", config.dataset, ", block ", block, " (stage ", ref.stage, " block ", ref.index, ", ",
        shift > 0 ? "shifted windows, shift " + std::to_string(shift) : std::string("plain windows"), ", ", g, "x", g,
        " tokens, ", nW, " windows of ", M, "x", M, ", ", nH, " heads). Panels: the input; how much each token is "
        "attended to inside its window (attention averaged over heads and queries), window borders in cyan. Dark "
        "purple = least, yellow = most.");
    picture.png = std::move(canvas.png);
    return picture;
}

}  // namespace

AttentionPicture render_attention(const ImageClassifier& model, const TrainConfig& config, const Tensor& input,
                                  const std::vector<uint8_t>& pixels, int64_t block) {
    NoGradGuard no_grad;
    check(static_cast<int64_t>(pixels.size()) == config.channels * config.image_size * config.image_size,
          "render_attention: ", pixels.size(), " pixel bytes for a ", config.channels, "x", config.image_size, "x",
          config.image_size, " image");
    AttentionPicture picture;
    if (const auto* vit = dynamic_cast<const VisionTransformer*>(&model)) {
        picture = vit_picture(*vit, config, input, pixels);
    } else {
        const auto* swin = dynamic_cast<const SwinTransformer*>(&model);
        check(swin != nullptr, "render_attention: the model is neither a VisionTransformer nor a SwinTransformer");
        picture = swin_picture(*swin, config, input, pixels, block);
    }
    picture.png.text = {{"Description", picture.caption}, {"Software", "patchgrad attention"}};
    return picture;
}

// ---- the command ------------------------------------------------------------------------------------------

int run_attention(int argc, char** argv) {
    InputFlags input_flags;
    std::string out = "attention.png";
    int64_t block = -1, threads = 2;
    bool reference = false;
    ArgParser args("patchgrad attention", "A picture of what a checkpoint's model attends to in one image (binary PPM/PGM, "
                                          "or a test-set\nexample): ViT: each head's CLS attention in the last block and "
                                          "the attention rollout;\nSwin: one block's window attention with the window "
                                          "grid (docs/seeing_inside.md).");
    add_input_flags(args, input_flags);
    args.option("--out", &out, "the PNG file to write");
    args.option("--block", &block, "Swin: the block to show, counted over all stages (default: the first shifted "
                                   "block of stage 0)", 0, 1 << 20);
    args.option("--threads", &threads, "OpenMP threads", 1, 1024);
    args.flag("--reference", &reference, "run every layer's textbook twin instead of its fused kernel (docs/models.md)");
    if (!args.parse(argc, argv)) return 0;
    check_input_flags(args, input_flags);
#ifdef _OPENMP
    omp_set_num_threads(static_cast<int>(threads));
#endif

    refuse_output_over_input("patchgrad attention", out, {input_flags.checkpoint, input_flags.image()});
    const Checkpoint ckpt = read_checkpoint(input_flags.checkpoint);
    TrainConfig config = ckpt.config;
    if (!input_flags.data.empty()) config.data = input_flags.data;
    if (args.given("--block")) {
        int64_t blocks = 0;
        for (int64_t depth : config.depths) blocks += depth;
        if (config.model != "swin") throw UsageError("patchgrad attention: --block is for Swin models; this is a ViT");
        if (block >= blocks)
            throw UsageError(format_message("patchgrad attention: --block ", block, " but the model has ", blocks,
                                            " blocks (0..", blocks - 1, ")"));
    }
    const InputImage input = load_input_image(config, ckpt.class_names, input_flags.image(), input_flags.index);
    const std::unique_ptr<ImageClassifier> model =
        model_from_checkpoint(ckpt, reference ? Kernels::reference : Kernels::fast);
    const AttentionPicture picture =
        render_attention(*model, config, normalized_input(input, config), input.dataset.pixels, block);
    write_png(out, picture.png);

    const Tensor probabilities = softmax(picture.logits, -1);
    const std::vector<Scalar> p = probabilities.to_vector();
    const int64_t predicted = std::max_element(p.begin(), p.end()) - p.begin();
    std::printf("%s: %s\n", ckpt.path.c_str(), input.described.c_str());
    if (input.label >= 0)
        std::printf("true class: %s (%lld)\n", ckpt.class_names[input.label].c_str(), static_cast<long long>(input.label));
    std::printf("predicted: %s (%lld), %.1f%%\n", ckpt.class_names[predicted].c_str(), static_cast<long long>(predicted),
                100 * p[predicted]);
    std::printf("wrote %s (%lldx%lld): %s\n", out.c_str(), static_cast<long long>(picture.png.width),
                static_cast<long long>(picture.png.height), picture.caption.c_str());
    return 0;
}

}  // namespace patchgrad::cli
