#include "datasets/augment.h"

#include <algorithm>
#include <cmath>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// A computed value back to a byte: rounded to the nearest, clamped to [0, 255].
uint8_t to_byte(double value) {
    if (value <= 0) return 0;
    if (value >= 255) return 255;
    return static_cast<uint8_t>(std::lround(value));
}

// The luma of pixel (y, x), ITU-R 601 (what PIL's convert("L") uses): 0.299 R + 0.587 G + 0.114 B. A grey
// image is its own luma.
double grey_at(const ByteImage& image, int64_t y, int64_t x) {
    if (image.channels == 1) return image.at(0, y, x);
    return 0.299 * image.at(0, y, x) + 0.587 * image.at(1, y, x) + 0.114 * image.at(2, y, x);
}

void check_grey_or_rgb(const ByteImage& image, const char* op) {
    check(image.channels == 1 || image.channels == 3, op, ": image of shape ",
          Shape{image.channels, image.height, image.width}, ", expected 1 (grey) or 3 (RGB) channels");
}

// Every channel p -> degenerate + factor * (p - degenerate), the blend of the "enhance" ops (PIL's
// ImageEnhance): degenerate (C, H, W) is the image the op moves away from.
void blend_with(ByteImage& image, const std::vector<double>& degenerate, double factor) {
    for (size_t i = 0; i < image.pixels.size(); ++i)
        image.pixels[i] = to_byte(degenerate[i] + factor * (image.pixels[i] - degenerate[i]));
}

// The one sampler of the geometric ops, PIL's Image.transform(AFFINE): output pixel (y, x) reads the input
// at the position
//   xs = a x + b y + c,   ys = d x + e y + f,        matrix = {a, b, c, d, e, f}
// rounded to the nearest pixel (floor(xs + 0.5)); outside the image it reads kGeometricFill.
void affine_nearest(ByteImage& image, const std::array<double, 6>& matrix) {
    const auto [a, b, c, d, e, f] = matrix;
    const int64_t C = image.channels, H = image.height, W = image.width;
    const ByteImage source = image;
    for (int64_t y = 0; y < H; ++y)
        for (int64_t x = 0; x < W; ++x) {
            const int64_t sx = static_cast<int64_t>(std::floor(a * x + b * y + c + 0.5));
            const int64_t sy = static_cast<int64_t>(std::floor(d * x + e * y + f + 0.5));
            const bool inside = sy >= 0 && sy < H && sx >= 0 && sx < W;
            for (int64_t ch = 0; ch < C; ++ch) image.at(ch, y, x) = inside ? source.at(ch, sy, sx) : kGeometricFill;
        }
}

}  // namespace

// ================================================ the image ops =========================================

void auto_contrast(ByteImage& image) {
    const int64_t plane = image.height * image.width;
    for (int64_t c = 0; c < image.channels; ++c) {
        uint8_t* p = image.pixels.data() + c * plane;  // (H, W)
        const auto [lo, hi] = std::minmax_element(p, p + plane);
        const int low = *lo, high = *hi;
        if (high == low) continue;
        for (int64_t i = 0; i < plane; ++i) p[i] = static_cast<uint8_t>((p[i] - low) * 255 / (high - low));
    }
}

// Why it flattens: lut[p] = (#{pixels < p} + step / 2) / step is the rank of p's first pixel in units of
// step ~ #pixels / 255, so equally many pixels land on each output level, as far as the bytes allow.
// The largest byte's own pixels are left out of step, as PIL does, so the top level starts at 255.
void equalize(ByteImage& image) {
    const int64_t plane = image.height * image.width;
    if (plane == 0) return;
    for (int64_t c = 0; c < image.channels; ++c) {
        uint8_t* p = image.pixels.data() + c * plane;  // (H, W)
        std::array<int64_t, 256> histogram{};
        for (int64_t i = 0; i < plane; ++i) ++histogram[p[i]];
        int largest = 255;
        while (histogram[largest] == 0) --largest;  // some byte occurs: plane >= 1
        const int64_t step = (plane - histogram[largest]) / 255;
        if (step == 0) continue;  // too few pixels (or one byte value): nothing to spread
        std::array<uint8_t, 256> lut{};
        int64_t below = step / 2;  // #{pixels < v} + step / 2
        for (int v = 0; v < 256; ++v) {
            lut[v] = static_cast<uint8_t>(std::min<int64_t>(below / step, 255));
            below += histogram[v];
        }
        for (int64_t i = 0; i < plane; ++i) p[i] = lut[p[i]];
    }
}

void solarize(ByteImage& image, double threshold) {
    for (uint8_t& p : image.pixels)
        if (p >= threshold) p = static_cast<uint8_t>(255 - p);
}

void posterize(ByteImage& image, int bits) {
    check(bits >= 0 && bits <= 8, "posterize: ", bits, " bits, expected 0..8");
    const int mask = ~((1 << (8 - bits)) - 1) & 0xFF;  // bits = 7: 0b11111110
    for (uint8_t& p : image.pixels) p = static_cast<uint8_t>(p & mask);
}

void adjust_brightness(ByteImage& image, double factor) {
    blend_with(image, std::vector<double>(image.pixels.size(), 0.0), factor);
}

// Colour is the distance of each channel from the pixel's grey: factor 0 gives the grey image, 1 the
// image, 2 doubles every pixel's colourfulness. A grey image has no colour to change.
void adjust_saturation(ByteImage& image, double factor) {
    check_grey_or_rgb(image, "adjust_saturation");
    if (image.channels == 1) return;
    const int64_t H = image.height, W = image.width;
    std::vector<double> grey(image.pixels.size());  // (3, H, W): the pixel's grey in every channel
    for (int64_t c = 0; c < 3; ++c)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) grey[(c * H + y) * W + x] = grey_at(image, y, x);
    blend_with(image, grey, factor);
}

// The degenerate image is flat at the mean grey, rounded to a byte as PIL does: factor 0 gives that flat
// image, and factor > 1 pushes every pixel away from the mean.
void adjust_contrast(ByteImage& image, double factor) {
    check_grey_or_rgb(image, "adjust_contrast");
    double total = 0;
    for (int64_t y = 0; y < image.height; ++y)
        for (int64_t x = 0; x < image.width; ++x) total += grey_at(image, y, x);
    const double mean = std::round(total / static_cast<double>(image.height * image.width));
    blend_with(image, std::vector<double>(image.pixels.size(), mean), factor);
}

// The degenerate image is PIL's SMOOTH filter, rounded to bytes, on the interior pixels:
//   d(y, x) = round( (sum of the 3x3 neighbourhood + 4 p(y, x)) / 13 ),   kernel 1 1 1 / 1 5 1 / 1 1 1
// and the border pixels keep their value (there the 3x3 window would leave the image). factor 0 blurs,
// factor > 1 sharpens: p + (factor - 1) (p - blurred p) is unsharp masking.
void adjust_sharpness(ByteImage& image, double factor) {
    const int64_t C = image.channels, H = image.height, W = image.width;
    std::vector<double> smooth(image.pixels.begin(), image.pixels.end());  // (C, H, W)
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 1; y + 1 < H; ++y)
            for (int64_t x = 1; x + 1 < W; ++x) {
                int sum = 4 * image.at(c, y, x);
                for (int64_t dy = -1; dy <= 1; ++dy)
                    for (int64_t dx = -1; dx <= 1; ++dx) sum += image.at(c, y + dy, x + dx);
                smooth[(c * H + y) * W + x] = to_byte(sum / 13.0);
            }
    blend_with(image, smooth, factor);
}

// Counter-clockwise by t on the screen (rows grow downwards). Around the centre (cy, cx), with
// u = x - cx, v = y - cy, the output at (u, v) comes from the input rotated back (clockwise) by t:
//   us = cos t u - sin t v,   vs = sin t u + cos t v
// e.g. t = 90: the output's top (0, -1) reads the input's right (1, 0). In pixel coordinates:
//   xs = cos t x - sin t y + (cx - cos t cx + sin t cy),   ys = sin t x + cos t y + (cy - sin t cx - cos t cy)
void rotate_image(ByteImage& image, double degrees) {
    const double t = degrees * M_PI / 180.0;
    const double cos_t = std::cos(t), sin_t = std::sin(t);
    const double cy = (image.height - 1) / 2.0, cx = (image.width - 1) / 2.0;
    affine_nearest(image, {cos_t, -sin_t, cx - cos_t * cx + sin_t * cy,  //
                           sin_t, cos_t, cy - sin_t * cx - cos_t * cy});
}

void shear_x(ByteImage& image, double shear) { affine_nearest(image, {1, shear, 0, 0, 1, 0}); }
void shear_y(ByteImage& image, double shear) { affine_nearest(image, {1, 0, 0, shear, 1, 0}); }

// out(y, x) = in(y, x - pixels): the content moves right by `pixels`.
void translate_x(ByteImage& image, int64_t pixels) {
    affine_nearest(image, {1, 0, -static_cast<double>(pixels), 0, 1, 0});
}
void translate_y(ByteImage& image, int64_t pixels) {
    affine_nearest(image, {1, 0, 0, 0, 1, -static_cast<double>(pixels)});
}

// ================================================ RandAugment ===========================================

const char* augment_op_name(AugmentOp op) {
    static const char* const names[kNumAugmentOps] = {
        "identity", "auto_contrast", "equalize", "rotate",     "solarize", "color",       "posterize",
        "contrast", "brightness",    "sharpness", "shear_x", "shear_y",  "translate_x", "translate_y"};
    return names[static_cast<int>(op)];
}

std::vector<RandAugmentStep> draw_rand_augment(int num_ops, Rng& rng) {
    check(num_ops >= 0, "draw_rand_augment: ", num_ops, " ops, expected 0 or more");
    std::vector<RandAugmentStep> steps(num_ops);
    for (RandAugmentStep& step : steps) {
        step.op = static_cast<AugmentOp>(rng.randint(kNumAugmentOps));
        step.negate = rng.randint(2) == 1;
    }
    return steps;
}

// The table of augment.h, m = M / 30, s = -1 when negated. The integer arguments are computed in integers:
// round(4 m) = floor((4 M + 15) / 30) (4 M / 30 is never a half), floor(150 / 331 W m) = floor(150 W M / 9930).
void apply_augment_op(ByteImage& image, AugmentOp op, int magnitude, bool negate) {
    check(magnitude >= 0 && magnitude <= kMaxMagnitude, "RandAugment: magnitude ", magnitude, ", expected 0..",
          kMaxMagnitude);
    const double m = magnitude / static_cast<double>(kMaxMagnitude);  // 0..1
    const double sign = negate ? -1.0 : 1.0;
    const double factor = 1.0 + sign * 0.9 * m;  // the enhance ops: 0.1 .. 1.9
    const int64_t shift_x = 150 * image.width * magnitude / 9930, shift_y = 150 * image.height * magnitude / 9930;
    switch (op) {
        case AugmentOp::identity: break;
        case AugmentOp::auto_contrast: auto_contrast(image); break;
        case AugmentOp::equalize: equalize(image); break;
        case AugmentOp::rotate: rotate_image(image, sign * 30.0 * m); break;
        case AugmentOp::solarize: solarize(image, 256.0 * (1.0 - m)); break;
        case AugmentOp::color: adjust_saturation(image, factor); break;
        case AugmentOp::posterize: posterize(image, 8 - (4 * magnitude + 15) / 30); break;
        case AugmentOp::contrast: adjust_contrast(image, factor); break;
        case AugmentOp::brightness: adjust_brightness(image, factor); break;
        case AugmentOp::sharpness: adjust_sharpness(image, factor); break;
        case AugmentOp::shear_x: shear_x(image, sign * 0.3 * m); break;
        case AugmentOp::shear_y: shear_y(image, sign * 0.3 * m); break;
        case AugmentOp::translate_x: translate_x(image, negate ? -shift_x : shift_x); break;
        case AugmentOp::translate_y: translate_y(image, negate ? -shift_y : shift_y); break;
    }
}

void rand_augment(ByteImage& image, const std::vector<RandAugmentStep>& steps, int magnitude) {
    for (const RandAugmentStep& step : steps) apply_augment_op(image, step.op, magnitude, step.negate);
}

// ================================================ Random Erasing ========================================

ErasedBox draw_random_erasing(double probability, int64_t height, int64_t width, Rng& rng) {
    if (!(rng.uniform() < probability)) return {};
    const double area = static_cast<double>(height * width);
    const double log_low = std::log(kErasingMinRatio), log_high = std::log(1.0 / kErasingMinRatio);
    for (int attempt = 0; attempt < kErasingTries; ++attempt) {
        const double target = rng.uniform(kErasingMinArea, kErasingMaxArea) * area;  // s H W
        const double ratio = std::exp(rng.uniform(log_low, log_high));            // r = h / w
        const int64_t h = std::lround(std::sqrt(target * ratio));                  // h w = s H W, h / w = r
        const int64_t w = std::lround(std::sqrt(target / ratio));
        if (h < height && w < width) {
            ErasedBox box;
            box.height = h;
            box.width = w;
            box.top = rng.randint(height - h + 1);
            box.left = rng.randint(width - w + 1);
            return box;
        }
    }
    return {};
}

void erase_box(Scalar* image, int64_t channels, int64_t height, int64_t width, const ErasedBox& box) {
    check(box.top >= 0 && box.left >= 0 && box.height >= 0 && box.width >= 0 && box.top + box.height <= height &&
              box.left + box.width <= width,
          "erase_box: box of ", box.height, " x ", box.width, " at (", box.top, ", ", box.left,
          ") does not fit an image of ", height, " x ", width);
    for (int64_t c = 0; c < channels; ++c)
        for (int64_t y = box.top; y < box.top + box.height; ++y)
            std::fill_n(image + (c * height + y) * width + box.left, box.width, Scalar(0));
}

// ================================================ mixup and CutMix ======================================

void mix_batch(Batch& batch, const MixOptions& options, Rng& rng) {
    const Tensor source = batch.images;  // (B, C, H, W), unmixed
    check(source.defined() && source.dim() == 4, "mix_batch: images ",
          source.defined() ? source.shape() : Shape{}, ", expected (B, C, H, W)");
    const int64_t B = source.size(0), C = source.size(1), H = source.size(2), W = source.size(3);
    check(batch.labels.defined() && batch.labels.shape() == Shape{B}, "mix_batch: labels ",
          batch.labels.defined() ? batch.labels.shape() : Shape{}, " for images ", source.shape(), ", expected ",
          Shape{B});
    check(options.mixup_alpha >= 0 && options.cutmix_alpha >= 0, "mix_batch: mixup_alpha ", options.mixup_alpha,
          " and cutmix_alpha ", options.cutmix_alpha, ", expected 0 (off) or more");
    check(options.probability >= 0 && options.probability <= 1 && options.switch_probability >= 0 &&
              options.switch_probability <= 1,
          "mix_batch: probability ", options.probability, " and switch_probability ", options.switch_probability,
          ", expected each in [0, 1]");

    const bool mixup_on = options.mixup_alpha > 0, cutmix_on = options.cutmix_alpha > 0;
    if (!mixup_on && !cutmix_on) return;
    if (!(rng.uniform() < options.probability)) return;
    const bool cutmix = mixup_on && cutmix_on ? rng.uniform() < options.switch_probability : cutmix_on;
    const double alpha = cutmix ? options.cutmix_alpha : options.mixup_alpha;
    double lambda = rng.beta(alpha, alpha);

    Tensor mixed = source.clone();        // (B, C, H, W)
    const Scalar* in = source.data();     // image b at in + b * C * H * W
    Scalar* out = mixed.data();
    const int64_t image_size = C * H * W;
    if (cutmix) {
        const int64_t cy = rng.randint(H), cx = rng.randint(W);
        const double side = std::sqrt(1.0 - lambda);  // box area / image area = side^2 = 1 - lambda
        const int64_t h = static_cast<int64_t>(H * side), w = static_cast<int64_t>(W * side);
        const int64_t top = std::clamp<int64_t>(cy - h / 2, 0, H), bottom = std::clamp<int64_t>(cy - h / 2 + h, 0, H);
        const int64_t left = std::clamp<int64_t>(cx - w / 2, 0, W), right = std::clamp<int64_t>(cx - w / 2 + w, 0, W);
        for (int64_t b = 0; b < B; ++b) {
            const Scalar* partner = in + (B - 1 - b) * image_size;
            for (int64_t c = 0; c < C; ++c)
                for (int64_t y = top; y < bottom; ++y)
                    for (int64_t x = left; x < right; ++x) {
                        const int64_t at = (c * H + y) * W + x;
                        out[b * image_size + at] = partner[at];
                    }
        }
        // The box may be clipped, so the pasted fraction is measured, not taken from the draw.
        lambda = 1.0 - static_cast<double>((bottom - top) * (right - left)) / static_cast<double>(H * W);
    } else {
        for (int64_t b = 0; b < B; ++b) {
            const Scalar* own = in + b * image_size;
            const Scalar* partner = in + (B - 1 - b) * image_size;
            for (int64_t i = 0; i < image_size; ++i)
                out[b * image_size + i] = static_cast<Scalar>(lambda * own[i] + (1.0 - lambda) * partner[i]);
        }
    }

    Tensor mixed_labels = Tensor::empty({B});  // (B): the partner's label
    for (int64_t b = 0; b < B; ++b) mixed_labels.data()[b] = batch.labels.data()[B - 1 - b];
    batch.images = mixed;
    batch.mixed_labels = mixed_labels;
    batch.mix_weight = lambda;
}

// ================================================ the mirror image ======================================

Tensor mirror_left_right(const Tensor& images) {
    check(images.defined() && images.dim() == 4, "mirror_left_right: images ",
          images.defined() ? images.shape() : Shape{}, ", expected (B, C, H, W)");
    const int64_t rows = images.size(0) * images.size(1) * images.size(2), W = images.size(3);  // B C H rows of W
    Tensor mirrored = Tensor::empty(images.shape());
    const Scalar* in = images.data();
    Scalar* out = mirrored.data();
    for (int64_t row = 0; row < rows; ++row)
        for (int64_t x = 0; x < W; ++x) out[row * W + x] = in[row * W + (W - 1 - x)];
    return mirrored;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
