#pragma once
// Stronger augmentation for training: RandAugment on the bytes of one image, Random Erasing on a normalised
// image, and mixup / CutMix across a batch; and for evaluation, the mirror image of a batch. docs/data.md,
// "Stronger augmentation", derives each; the tests are tests/test_augment.cpp (the ops, RandAugment) and
// tests/test_augment_batch.cpp (erasing, mixing, mirroring, the loader).
//
// Legend: B batch size, C channels (1 grey, 3 RGB), H rows, W columns; M RandAugment's magnitude, 0..30.
//
// Where each runs, for one training example (DataLoader::batch, datasets/dataloader.h):
//   bytes (C, H, W) --RandAugment--> bytes --crop, flip--> bytes --normalise--> values --Random Erasing-->
// and then, on the whole batch, in the training loop: mix_batch (mixup or CutMix).
//
// Randomness. Every function here that is random takes the draws it needs as arguments (a RandAugmentStep,
// an ErasedBox), and the functions that make those draws (draw_rand_augment, draw_random_erasing, mix_batch)
// say exactly which and how many, so the DataLoader can make all draws serially and then build the images
// in parallel. The ops themselves (auto_contrast ... translate_y) are deterministic.
#include <array>
#include <cstdint>
#include <vector>

#include "datasets/dataloader.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// One image of bytes, (C, H, W) row-major like ImageDataset::image(n): pixel (c, y, x) at (c * H + y) * W + x.
struct ByteImage {
    int64_t channels = 0;         // C
    int64_t height = 0;           // H
    int64_t width = 0;            // W
    std::vector<uint8_t> pixels;  // (C, H, W)

    uint8_t& at(int64_t c, int64_t y, int64_t x) { return pixels[(c * height + y) * width + x]; }
    uint8_t at(int64_t c, int64_t y, int64_t x) const { return pixels[(c * height + y) * width + x]; }
};

// ============================================ the image ops ===========================================
// Each works in place on bytes, as PIL's ImageOps / ImageEnhance and torchvision do, on any number of
// channels except adjust_saturation and adjust_contrast, which need a grey (C = 1) or RGB (C = 3) image and
// throw otherwise. On a grey image the "grey" of a pixel is the pixel itself, so adjust_saturation changes
// nothing there: colour needs three channels.

// Per channel, stretch [lo, hi] (its smallest and largest byte) to [0, 255]: p -> (p - lo) * 255 / (hi - lo),
// rounded down; a channel with hi = lo is left alone.
void auto_contrast(ByteImage& image);
// Per channel, flatten the histogram (PIL's ImageOps.equalize): p -> (step / 2 + #{pixels < p}) / step,
// integer division, step = (#pixels - #{pixels at the channel's largest byte}) / 255; step 0: left alone.
void equalize(ByteImage& image);
// Invert the bright bytes: p -> 255 - p when p >= threshold; threshold 256 changes nothing, 0 inverts all.
void solarize(ByteImage& image, double threshold);
// Keep the top `bits` bits of each byte (0..8): p -> p & ~(2^(8 - bits) - 1); 8 bits changes nothing.
void posterize(ByteImage& image, int bits);

// The four "enhance" ops blend the image with a degenerate version of it: p -> d + factor * (p - d),
// rounded to the nearest byte and clamped to [0, 255]. factor 1 is the identity, 0 gives the degenerate
// image, factor > 1 extrapolates away from it.
void adjust_brightness(ByteImage& image, double factor);  // d = 0, black
void adjust_saturation(ByteImage& image, double factor);  // d = grey(pixel) = 0.299 R + 0.587 G + 0.114 B
void adjust_contrast(ByteImage& image, double factor);    // d = the mean grey of the image, rounded
void adjust_sharpness(ByteImage& image, double factor);   // d = the 3x3 smoothed image, border unchanged

// The geometric ops map each output pixel back to a source position and read the nearest source pixel
// (nearest-neighbour sampling, so bytes stay bytes). Positions outside the image read kGeometricFill.
constexpr uint8_t kGeometricFill = 128;  // mid-grey in all channels (timm's fallback; torchvision fills 0)
// Rotate counter-clockwise by `degrees` about the image centre ((H - 1) / 2, (W - 1) / 2).
void rotate_image(ByteImage& image, double degrees);
// Shear about the top-left corner: out(y, x) = in(y, x + shear * y) (shear_x), in(y + shear * x, x) (shear_y).
void shear_x(ByteImage& image, double shear);
void shear_y(ByteImage& image, double shear);
// Shift the content right (translate_x) or down (translate_y) by whole pixels, negative: left or up.
void translate_x(ByteImage& image, int64_t pixels);
void translate_y(ByteImage& image, int64_t pixels);

// ============================================ RandAugment =============================================
// RandAugment (Cubuk et al., 2019): for each image, apply N ops drawn uniformly (with replacement) from
// the 14 below, each at the one magnitude M in 0..30. Op k's argument at magnitude M, with m = M / 30 and
// s = -1 or +1 a random sign for the signed ops (torchvision's RandAugment table: 31 magnitude bins):
//   identity, auto_contrast, equalize         no argument
//   rotate                                    s * 30 m degrees
//   solarize                                  threshold 256 (1 - m) (torchvision's 255 (1 - m) would
//                                             still invert 255 at M = 0; 256, as timm, makes it the identity)
//   color, contrast, brightness, sharpness    factor 1 + s * 0.9 m
//   posterize                                 8 - round(4 m) bits
//   shear_x, shear_y                          shear s * 0.3 m
//   translate_x, translate_y                  s * floor(150 / 331 * W m) pixels (H for y): up to 45% of
//                                             the side, as the paper's 150 pixels of a 331-pixel image
// So M = 0 is the identity for every op, and M = 30 is the strongest. "color" is adjust_saturation.
enum class AugmentOp {
    identity, auto_contrast, equalize, rotate, solarize, color, posterize,
    contrast, brightness, sharpness, shear_x, shear_y, translate_x, translate_y
};
constexpr int kNumAugmentOps = 14;
constexpr int kMaxMagnitude = 30;
const char* augment_op_name(AugmentOp op);  // "identity", "auto_contrast", ...

// One of the N ops of one image: which op, and whether its signed argument is negated.
struct RandAugmentStep {
    AugmentOp op = AugmentOp::identity;
    bool negate = false;
};

// The N steps of one image. Draws, for each step in order: op = rng.randint(14) (the enum's order), then
// negate = rng.randint(2) == 1, drawn for every op (the unsigned ops ignore it), so one image always costs
// exactly 2 N draws.
std::vector<RandAugmentStep> draw_rand_augment(int num_ops, Rng& rng);
// One op at magnitude M (0..30), with the argument of the table above.
void apply_augment_op(ByteImage& image, AugmentOp op, int magnitude, bool negate);
// The steps in order.
void rand_augment(ByteImage& image, const std::vector<RandAugmentStep>& steps, int magnitude);

// ============================================ Random Erasing ==========================================
// Random Erasing (Zhong et al., 2017), on a normalised image: with probability p, choose a rectangle of
// area s * H * W and aspect ratio r = h / w, s uniform in [0.02, 1/3], log r uniform in [log 0.3, log(1/0.3)]:
//   h = round(sqrt(s H W r)),  w = round(sqrt(s H W / r));
// if h < H and w < W place it uniformly, top in [0, H - h], left in [0, W - w]; else try again, up to 10
// tries (then nothing is erased). Every channel of the rectangle is set to 0: after normalisation 0 is the
// dataset's mean colour, so the patch is the average pixel rather than black (timm's default "const" mode).
constexpr double kErasingMinArea = 0.02;
constexpr double kErasingMaxArea = 1.0 / 3.0;
constexpr double kErasingMinRatio = 0.3;  // and 1 / 0.3 = 3.33 the largest, so r and 1 / r are equally likely
constexpr int kErasingTries = 10;

struct ErasedBox {
    int64_t top = 0, left = 0;      // the first erased row and column
    int64_t height = 0, width = 0;  // h, w; 0 x 0: nothing erased
};

// Draws: u = rng.uniform(); nothing more unless u < probability. Then per try: s = rng.uniform(0.02, 1/3),
// log r = rng.uniform(log 0.3, log(1/0.3)); on the first try that fits, top = rng.randint(H - h + 1), then
// left = rng.randint(W - w + 1).
ErasedBox draw_random_erasing(double probability, int64_t height, int64_t width, Rng& rng);
// image (C, H, W): every channel of the box set to 0.
void erase_box(Scalar* image, int64_t channels, int64_t height, int64_t width, const ErasedBox& box);

// ============================================ mixup and CutMix ========================================
// Mix each image of a batch with a partner: image i with image B - 1 - i (the batch reversed, as timm does),
// and its label with the partner's, weighted by lambda ~ Beta(alpha, alpha).
//   mixup  (Zhang et al., 2018):  x_i = lambda x_i + (1 - lambda) x_partner
//   CutMix (Yun et al., 2019):    paste a box of the partner's pixels into x_i: h = floor(H sqrt(1 - lambda))
//                                 rows by w = floor(W sqrt(1 - lambda)) columns (area fraction about
//                                 1 - lambda) around a uniform pixel (cy, cx): rows [cy - floor(h / 2),
//                                 cy - floor(h / 2) + h), columns likewise, clipped at the borders. Then
//                                 lambda is reset to the exact fraction of image i that is kept,
//                                 1 - box area / (H W). (timm and the paper's code take floor(h / 2) on
//                                 both sides of cy: one row fewer when h is odd.)
// The batch records the partner's labels and lambda (Batch::mixed_labels, Batch::mix_weight); the loss is
// lambda CE(z, labels) + (1 - lambda) CE(z, mixed_labels). One lambda and one box for the whole batch.
struct MixOptions {
    double mixup_alpha = 0;           // > 0 enables mixup, e.g. 0.8 (timm's DeiT recipe)
    double cutmix_alpha = 0;          // > 0 enables CutMix, e.g. 1.0
    double probability = 1.0;         // the chance that a batch is mixed at all
    double switch_probability = 0.5;  // with both enabled: the chance of CutMix rather than mixup
};

// Replaces batch.images (B, C, H, W) by the mixed images (a new tensor: other handles to the old one are
// untouched) and sets batch.mixed_labels and batch.mix_weight; a batch that is not mixed is left alone
// (mix_weight 1, mixed_labels undefined, as the loader makes it). Draws, all serial:
//   none when both alphas are 0; otherwise u = rng.uniform(), mixed when u < probability; if mixed:
//   with both enabled, v = rng.uniform(), CutMix when v < switch_probability; then
//   lambda = rng.beta(alpha, alpha) (a variable number of draws, core/random.cpp); for CutMix then
//   cy = rng.randint(H), cx = rng.randint(W).
void mix_batch(Batch& batch, const MixOptions& options, Rng& rng);

// ============================================ the mirror image, for evaluation ==========================
// Test-time augmentation (docs/data.md, "Evaluating the mirror image too"): a model trained on randomly
// flipped images can be asked about an image and about its mirror image, and its two answers averaged.
// Returns a new tensor (B, C, H, W) with each row reversed: out[b, c, y, x] = images[b, c, y, W - 1 - x].
// Throws std::invalid_argument naming the shape when images is not 4-D.
Tensor mirror_left_right(const Tensor& images);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
