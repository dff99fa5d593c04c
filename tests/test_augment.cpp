// The stronger augmentations of datasets/augment.h, part 1: every RandAugment op on small images worked out
// by hand, the magnitude table, the draws of RandAugment, and the Gamma and Beta samplers of core/random.h.
// Part 2, tests/test_augment_batch.cpp: Random Erasing, mixup and CutMix, and the DataLoader with all of them.
//
// Images are written as text, a picture of the bytes: rows separated by " / ", channels by " | ".
#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "datasets/augment.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// A C x H x W image from its bytes in (C, H, W) order.
ByteImage image_of(int64_t C, int64_t H, int64_t W, const std::vector<int>& bytes) {
    REQUIRE(static_cast<int64_t>(bytes.size()) == C * H * W);
    return ByteImage{C, H, W, std::vector<uint8_t>(bytes.begin(), bytes.end())};
}

// "1 2 / 3 4 | 5 6 / 7 8" for a 2 x 2 x 2 image.
std::string picture(const ByteImage& image) {
    std::ostringstream text;
    for (int64_t c = 0; c < image.channels; ++c)
        for (int64_t y = 0; y < image.height; ++y)
            for (int64_t x = 0; x < image.width; ++x) {
                if (x > 0) text << ' ';
                else if (y > 0) text << " / ";
                else if (c > 0) text << " | ";
                text << int(image.at(c, y, x));
            }
    return text.str();
}

// `op` applied to a copy of `image`.
template <class Op>
ByteImage after(ByteImage image, Op op) {
    op(image);
    return image;
}

// The image after one RandAugment op at magnitude M.
ByteImage after_op(const ByteImage& image, AugmentOp op, int magnitude, bool negate = false) {
    return after(image, [&](ByteImage& x) { apply_augment_op(x, op, magnitude, negate); });
}

// A C x H x W image of random bytes.
ByteImage random_image(int64_t C, int64_t H, int64_t W, uint64_t seed) {
    Rng rng(seed);
    ByteImage image{C, H, W, std::vector<uint8_t>(C * H * W)};
    for (uint8_t& p : image.pixels) p = static_cast<uint8_t>(rng.randint(256));
    return image;
}

// 1 2 3 4 / 5 6 7 8 / ... : the pixels of a grey H x W image counted from 1.
ByteImage counting(int64_t H, int64_t W) {
    ByteImage image{1, H, W, std::vector<uint8_t>(H * W)};
    for (int64_t i = 0; i < H * W; ++i) image.pixels[i] = static_cast<uint8_t>(i + 1);
    return image;
}

}  // namespace

TEST_CASE("augment: the picture helper writes rows and channels as the tests read them") {
    CHECK(picture(image_of(2, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8})) == "1 2 / 3 4 | 5 6 / 7 8");
    CHECK(picture(counting(2, 3)) == "1 2 3 / 4 5 6");
}

// ================================================ the point ops =========================================

TEST_CASE("augment: auto_contrast stretches each channel's [lo, hi] to [0, 255], by hand") {
    // channel 0: lo 50, hi 150: (p - 50) * 255 / 100 = 0, 127.5 -> 127 (rounded down), 255
    // channel 1: one value, nothing to stretch
    CHECK(picture(after(image_of(2, 1, 3, {50, 100, 150, 7, 7, 7}), auto_contrast)) == "0 127 255 | 7 7 7");
    CHECK(picture(after(image_of(1, 1, 2, {0, 255}), auto_contrast)) == "0 255");  // already full range
}

TEST_CASE("augment: equalize spreads three equally common levels to 0, 128, 255, by hand") {
    // 765 pixels, 255 each of 10, 20, 30: step = (765 - 255) / 255 = 2, and lut[v] = (1 + #{pixels < v}) / 2:
    //   lut[10] = 1 / 2 = 0,  lut[20] = (1 + 255) / 2 = 128,  lut[30] = (1 + 510) / 2 = 255
    std::vector<int> bytes;
    for (int level : {10, 20, 30}) bytes.insert(bytes.end(), 255, level);
    const ByteImage out = after(image_of(1, 15, 51, bytes), equalize);
    CHECK(out.at(0, 0, 0) == 0);      // pixel 0 is a 10
    CHECK(out.at(0, 5, 0) == 128);    // pixel 255 = row 5 is the first 20
    CHECK(out.at(0, 14, 50) == 255);  // the last pixel is a 30
    // 4 pixels: step = (4 - 1) / 255 = 0, too few to spread, left alone (as PIL does)
    CHECK(picture(after(image_of(1, 2, 2, {0, 0, 100, 200}), equalize)) == "0 0 / 100 200");
}

TEST_CASE("augment: solarize and posterize, by hand") {
    const ByteImage bytes = image_of(1, 1, 5, {0, 100, 179, 180, 255});
    // threshold 180: 180 -> 255 - 180 = 75, 255 -> 0; the rest stays
    CHECK(picture(after(bytes, [](ByteImage& x) { solarize(x, 180); })) == "0 100 179 75 0");
    CHECK(picture(after(bytes, [](ByteImage& x) { solarize(x, 256); })) == "0 100 179 180 255");
    CHECK(picture(after(bytes, [](ByteImage& x) { solarize(x, 0); })) == "255 155 76 75 0");
    // 4 bits: mask 0xF0: 100 = 0x64 -> 0x60 = 96, 179 = 0xB3 -> 0xB0 = 176, 180 = 0xB4 -> 176, 255 -> 240
    CHECK(picture(after(bytes, [](ByteImage& x) { posterize(x, 4); })) == "0 96 176 176 240");
    CHECK(picture(after(bytes, [](ByteImage& x) { posterize(x, 1); })) == "0 0 128 128 128");
    CHECK(picture(after(bytes, [](ByteImage& x) { posterize(x, 8); })) == "0 100 179 180 255");
    ByteImage bad = bytes;
    CHECK(contains(thrown_message([&] { posterize(bad, 9); }), "posterize: 9 bits, expected 0..8"));
}

TEST_CASE("augment: brightness, saturation and contrast blend with black, grey and the mean grey, by hand") {
    // brightness: d = 0, p -> factor p: 10 * 1.5 = 15, 100 * 1.5 = 150, 200 * 1.5 = 300 -> 255
    const ByteImage grey = image_of(1, 1, 3, {10, 100, 200});
    CHECK(picture(after(grey, [](ByteImage& x) { adjust_brightness(x, 1.5); })) == "15 150 255");
    CHECK(picture(after(grey, [](ByteImage& x) { adjust_brightness(x, 0.0); })) == "0 0 0");

    // saturation of the pixel (R, G, B) = (100, 50, 0): grey = 0.299 * 100 + 0.587 * 50 = 29.9 + 29.35 = 59.25
    //   factor 0: 59.25 -> 59 in every channel
    //   factor 2: R 59.25 + 2 * 40.75 = 140.75 -> 141, G 59.25 - 2 * 9.25 = 40.75 -> 41, B 59.25 - 118.5 -> 0
    const ByteImage rgb = image_of(3, 1, 1, {100, 50, 0});
    CHECK(picture(after(rgb, [](ByteImage& x) { adjust_saturation(x, 0.0); })) == "59 | 59 | 59");
    CHECK(picture(after(rgb, [](ByteImage& x) { adjust_saturation(x, 2.0); })) == "141 | 41 | 0");
    CHECK(picture(after(grey, [](ByteImage& x) { adjust_saturation(x, 0.0); })) == "10 100 200");  // no colour

    // contrast of grey 13 21 29 37: mean 25; factor 1.9: 25 + 1.9 (p - 25) = 2.2, 17.4, 32.6, 47.8 -> 2 17 33 48
    const ByteImage ramp = image_of(1, 1, 4, {13, 21, 29, 37});
    CHECK(picture(after(ramp, [](ByteImage& x) { adjust_contrast(x, 1.9); })) == "2 17 33 48");
    CHECK(picture(after(ramp, [](ByteImage& x) { adjust_contrast(x, 0.0); })) == "25 25 25 25");
    // colour: pixels (100, 0, 0) and (0, 100, 0) have greys 29.9 and 58.7, mean 44.3 -> 44;
    // factor 0.5: 44 + 0.5 (p - 44): 100 -> 72, 0 -> 22
    const ByteImage two = image_of(3, 1, 2, {100, 0, 0, 100, 0, 0});
    CHECK(picture(after(two, [](ByteImage& x) { adjust_contrast(x, 0.5); })) == "72 22 | 22 72 | 22 22");
    ByteImage four_channels{4, 1, 1, {1, 2, 3, 4}};
    CHECK(contains(thrown_message([&] { adjust_contrast(four_channels, 2); }), "expected 1 (grey) or 3 (RGB)"));
}

TEST_CASE("augment: sharpness blends with PIL's 3x3 smoothing, the border unchanged, by hand") {
    // all 10 but the centre 36: smoothed centre = (8 * 10 + 5 * 36) / 13 = 260 / 13 = 20
    //   factor 2: 20 + 2 (36 - 20) = 52;  factor 0: 20;  the border pixels are their own smoothing
    const ByteImage spot = image_of(1, 3, 3, {10, 10, 10, 10, 36, 10, 10, 10, 10});
    CHECK(picture(after(spot, [](ByteImage& x) { adjust_sharpness(x, 2.0); })) == "10 10 10 / 10 52 10 / 10 10 10");
    CHECK(picture(after(spot, [](ByteImage& x) { adjust_sharpness(x, 0.0); })) == "10 10 10 / 10 20 10 / 10 10 10");
    // a 2 x 2 image is all border
    CHECK(picture(after(image_of(1, 2, 2, {0, 255, 255, 0}), [](ByteImage& x) { adjust_sharpness(x, 0.0); })) ==
          "0 255 / 255 0");
}

// ================================================ the geometric ops =====================================

TEST_CASE("augment: rotate_image turns counter-clockwise about the centre, fill 128, by hand") {
    // 90 degrees on a 3 x 3 image: the right column becomes the top row (numpy's rot90)
    CHECK(picture(after(counting(3, 3), [](ByteImage& x) { rotate_image(x, 90); })) == "3 6 9 / 2 5 8 / 1 4 7");
    CHECK(picture(after(counting(3, 3), [](ByteImage& x) { rotate_image(x, -90); })) == "7 4 1 / 8 5 2 / 9 6 3");
    // 180 degrees on 2 x 3: read backwards
    CHECK(picture(after(counting(2, 3), [](ByteImage& x) { rotate_image(x, 180); })) == "6 5 4 / 3 2 1");
    // 90 degrees on 2 x 4: centre (0.5, 1.5); the middle 2 x 2 (2 3 / 6 7) turns to 3 7 / 2 6, and the outer
    // columns read from rows -1 and 2, outside: fill
    CHECK(picture(after(counting(2, 4), [](ByteImage& x) { rotate_image(x, 90); })) == "128 3 7 128 / 128 2 6 128");
    // every channel alike
    CHECK(picture(after(image_of(2, 1, 2, {1, 2, 3, 4}), [](ByteImage& x) { rotate_image(x, 180); })) == "2 1 | 4 3");
}

TEST_CASE("augment: shear_x and shear_y about the top-left corner, nearest pixel, fill 128, by hand") {
    // shear 0.3: row y reads columns x + 0.3 y, rounded: rows 0 and 1 (0, 0.3) stay, rows 2 and 3 (0.6, 0.9)
    // read one column to the right, and their last column is outside
    CHECK(picture(after(counting(4, 4), [](ByteImage& x) { shear_x(x, 0.3); })) ==
          "1 2 3 4 / 5 6 7 8 / 10 11 12 128 / 14 15 16 128");
    // shear -0.3: rows 2 and 3 read one column to the left (x - 0.6, x - 0.9 round to x - 1)
    CHECK(picture(after(counting(4, 4), [](ByteImage& x) { shear_x(x, -0.3); })) ==
          "1 2 3 4 / 5 6 7 8 / 128 9 10 11 / 128 13 14 15");
    // shear_y: the same for columns: columns 2 and 3 read one row down
    CHECK(picture(after(counting(4, 4), [](ByteImage& x) { shear_y(x, 0.3); })) ==
          "1 2 7 8 / 5 6 11 12 / 9 10 15 16 / 13 14 128 128");
}

TEST_CASE("augment: translate_x and translate_y shift the content by whole pixels, fill 128, by hand") {
    CHECK(picture(after(counting(2, 3), [](ByteImage& x) { translate_x(x, 1); })) == "128 1 2 / 128 4 5");
    CHECK(picture(after(counting(2, 3), [](ByteImage& x) { translate_x(x, -2); })) == "3 128 128 / 6 128 128");
    CHECK(picture(after(counting(3, 2), [](ByteImage& x) { translate_y(x, 1); })) == "128 128 / 1 2 / 3 4");
    CHECK(picture(after(counting(3, 2), [](ByteImage& x) { translate_y(x, -1); })) == "3 4 / 5 6 / 128 128");
}

// ================================================ RandAugment's magnitudes ==============================

TEST_CASE("augment: RandAugment's magnitude table, op by op, by hand") {
    const ByteImage bytes = image_of(1, 1, 5, {0, 100, 179, 180, 255});
    SUBCASE("solarize: threshold 256 (1 - M / 30): M 9 -> 179.2, M 30 -> 0") {
        CHECK(picture(after_op(bytes, AugmentOp::solarize, 9)) == "0 100 179 75 0");
        CHECK(picture(after_op(bytes, AugmentOp::solarize, 30)) == "255 155 76 75 0");
    }
    SUBCASE("posterize: 8 - round(4 M / 30) bits: M 3 -> 0.4 -> 8 bits, M 4 -> 0.53 -> 7, M 30 -> 4") {
        CHECK(picture(after_op(bytes, AugmentOp::posterize, 3)) == "0 100 179 180 255");
        CHECK(picture(after_op(bytes, AugmentOp::posterize, 4)) == "0 100 178 180 254");
        CHECK(picture(after_op(bytes, AugmentOp::posterize, 30)) == "0 96 176 176 240");
    }
    SUBCASE("the enhance ops: factor 1 +- 0.9 M / 30: M 15 -> 1.45 or 0.55") {
        const ByteImage grey = image_of(1, 1, 2, {20, 100});
        CHECK(picture(after_op(grey, AugmentOp::brightness, 15)) == "29 145");         // 29, 145
        CHECK(picture(after_op(grey, AugmentOp::brightness, 15, true)) == "11 55");    // 11, 55
        // contrast: mean 60; 60 + 1.45 (p - 60) = 2, 118;  60 + 0.55 (p - 60) = 38, 82
        CHECK(picture(after_op(grey, AugmentOp::contrast, 15)) == "2 118");
        CHECK(picture(after_op(grey, AugmentOp::contrast, 15, true)) == "38 82");
        // sharpness: the centre of the spot smooths to 20; 20 + 1.45 * 16 = 43.2, 20 + 0.55 * 16 = 28.8
        const ByteImage spot = image_of(1, 3, 3, {10, 10, 10, 10, 36, 10, 10, 10, 10});
        CHECK(after_op(spot, AugmentOp::sharpness, 15).at(0, 1, 1) == 43);
        CHECK(after_op(spot, AugmentOp::sharpness, 15, true).at(0, 1, 1) == 29);
        // color: (100, 50, 0), grey 59.25; M 30 -> 1.9: R 59.25 + 1.9 * 40.75 = 136.675 -> 137,
        // G 59.25 - 1.9 * 9.25 = 41.675 -> 42, B 59.25 - 1.9 * 59.25 = -53.3 -> 0
        CHECK(picture(after_op(image_of(3, 1, 1, {100, 50, 0}), AugmentOp::color, 30)) == "137 | 42 | 0");
    }
    SUBCASE("rotate: M degrees, negated: -M; at 30 a pixel right of the centre moves up or down") {
        // 5 x 5, centre (2, 2), one bright pixel at (2, 4). Rotated by +30 degrees the output (1, 4) reads
        //   xs = 2 + cos 30 * 2 - sin 30 * (-1) = 2 + 1.732 + 0.5 = 4.23 -> 4
        //   ys = 2 + sin 30 * 2 + cos 30 * (-1) = 2 + 1 - 0.866 = 2.13 -> 2,   the bright pixel;
        // by -30 degrees, mirrored, the output (3, 4) does. The corner (0, 0) reads ys = 2 - 1 - 1.732 < -0.5: fill.
        ByteImage dot{1, 5, 5, std::vector<uint8_t>(25, 0)};
        dot.at(0, 2, 4) = 200;
        const ByteImage up = after_op(dot, AugmentOp::rotate, 30), down = after_op(dot, AugmentOp::rotate, 30, true);
        CHECK(up.at(0, 1, 4) == 200);
        CHECK(up.at(0, 2, 4) == 0);
        CHECK(up.at(0, 3, 4) == 0);
        CHECK(down.at(0, 3, 4) == 200);
        CHECK(down.at(0, 1, 4) == 0);
        CHECK(up.at(0, 0, 0) == kGeometricFill);
    }
    SUBCASE("shear: 0.3 M / 30") {
        CHECK(picture(after_op(counting(4, 4), AugmentOp::shear_x, 30)) == "1 2 3 4 / 5 6 7 8 / 10 11 12 128 / 14 15 16 128");
        CHECK(picture(after_op(counting(4, 4), AugmentOp::shear_x, 30, true)) ==
              "1 2 3 4 / 5 6 7 8 / 128 9 10 11 / 128 13 14 15");
        // M 15: 0.15; row 3 reads x + 0.45, rounded to x: nothing moves
        CHECK(picture(after_op(counting(4, 4), AugmentOp::shear_y, 15)) == picture(counting(4, 4)));
    }
    SUBCASE("translate: floor(150 / 331 * W * M / 30) pixels: W 32, M 9 -> 4.35 -> 4; M 30 -> 14.5 -> 14") {
        const ByteImage wide = counting(1, 32);
        const ByteImage right = after_op(wide, AugmentOp::translate_x, 9);
        CHECK(right.at(0, 0, 3) == kGeometricFill);
        CHECK(right.at(0, 0, 4) == 1);
        CHECK(after_op(wide, AugmentOp::translate_x, 9, true).at(0, 0, 0) == 5);  // 4 to the left
        CHECK(after_op(wide, AugmentOp::translate_x, 30).at(0, 0, 14) == 1);
        CHECK(after_op(wide, AugmentOp::translate_x, 30).at(0, 0, 13) == kGeometricFill);
        // translate_y uses H: H 10, M 30 -> 4.53 -> 4 rows down
        const ByteImage tall = counting(10, 1);
        CHECK(after_op(tall, AugmentOp::translate_y, 30).at(0, 4, 0) == 1);
        CHECK(after_op(tall, AugmentOp::translate_y, 30, true).at(0, 0, 0) == 5);
    }
    SUBCASE("identity, auto_contrast and equalize ignore the magnitude") {
        const ByteImage image = random_image(3, 17, 16, 5);
        CHECK(after_op(image, AugmentOp::identity, 30).pixels == image.pixels);
        CHECK(after_op(image, AugmentOp::auto_contrast, 0).pixels == after(image, auto_contrast).pixels);
        CHECK(after_op(image, AugmentOp::auto_contrast, 30).pixels == after(image, auto_contrast).pixels);
        CHECK(after_op(image, AugmentOp::equalize, 7).pixels == after(image, equalize).pixels);
    }
    ByteImage image = bytes;
    CHECK(contains(thrown_message([&] { apply_augment_op(image, AugmentOp::rotate, 31, false); }),
                   "RandAugment: magnitude 31, expected 0..30"));
}

TEST_CASE("augment: magnitude 0 is the identity for every op but auto_contrast and equalize; 30 changes them all") {
    const ByteImage image = random_image(3, 24, 24, 1);  // 576 pixels a channel: enough for equalize to act
    for (int k = 0; k < kNumAugmentOps; ++k) {
        const AugmentOp op = static_cast<AugmentOp>(k);
        CAPTURE(augment_op_name(op));
        const bool magnitude_free = op == AugmentOp::auto_contrast || op == AugmentOp::equalize;
        for (bool negate : {false, true}) {
            if (!magnitude_free) CHECK(after_op(image, op, 0, negate).pixels == image.pixels);
            if (op != AugmentOp::identity) CHECK(after_op(image, op, 30, negate).pixels != image.pixels);
        }
    }
}

TEST_CASE("augment: on a grey image color is the identity and the other ops work on the one channel") {
    const ByteImage grey = random_image(1, 10, 10, 2);
    for (int magnitude : {9, 30})
        for (bool negate : {false, true}) CHECK(after_op(grey, AugmentOp::color, magnitude, negate).pixels == grey.pixels);
    CHECK(after_op(grey, AugmentOp::contrast, 30).pixels != grey.pixels);
    CHECK(after_op(grey, AugmentOp::rotate, 30).pixels != grey.pixels);
}

TEST_CASE("augment: op names follow the enum's order, the order of the draws") {
    CHECK(std::string(augment_op_name(AugmentOp::identity)) == "identity");
    CHECK(std::string(augment_op_name(AugmentOp::color)) == "color");
    CHECK(std::string(augment_op_name(AugmentOp::translate_y)) == "translate_y");
    CHECK(static_cast<int>(AugmentOp::translate_y) == kNumAugmentOps - 1);
}

// ================================================ RandAugment's draws ===================================

TEST_CASE("augment: draw_rand_augment draws an op index then a sign per step, 2 N draws, every op alike") {
    Rng rng(17), replay(17);
    const std::vector<RandAugmentStep> steps = draw_rand_augment(3, rng);
    REQUIRE(steps.size() == 3);
    for (const RandAugmentStep& step : steps) {
        CHECK(static_cast<int>(step.op) == replay.randint(14));
        CHECK(step.negate == (replay.randint(2) == 1));
    }
    CHECK(rng.state() == replay.state());  // nothing more was drawn
    // 0 ops: no draws
    const Rng::State before = rng.state();
    CHECK(draw_rand_augment(0, rng).empty());
    CHECK(rng.state() == before);

    // 14,000 steps: each op about 1,000 times (binomial sd 30.5; 5 sd = 153), each sign about half
    std::vector<int> count(kNumAugmentOps, 0);
    int negated = 0;
    for (const RandAugmentStep& step : draw_rand_augment(14000, rng)) {
        ++count[static_cast<int>(step.op)];
        negated += step.negate;
    }
    for (int k = 0; k < kNumAugmentOps; ++k) CHECK(std::abs(count[k] - 1000) < 153);
    CHECK(std::abs(negated - 7000) < 300);  // sd 59
}

TEST_CASE("augment: rand_augment applies its steps in order") {
    // posterize to 4 bits then solarize (threshold 256 * 0.0 at M 30: all): 100 -> 96 -> 159; the other
    // order: 100 -> 155 -> 144
    const ByteImage image = image_of(1, 1, 1, {100});
    const std::vector<RandAugmentStep> post_then_sol = {{AugmentOp::posterize, false}, {AugmentOp::solarize, false}};
    const std::vector<RandAugmentStep> sol_then_post = {{AugmentOp::solarize, false}, {AugmentOp::posterize, false}};
    CHECK(picture(after(image, [&](ByteImage& x) { rand_augment(x, post_then_sol, 30); })) == "159");
    CHECK(picture(after(image, [&](ByteImage& x) { rand_augment(x, sol_then_post, 30); })) == "144");
}

// ================================================ Gamma and Beta samplers ===============================

namespace {

struct Moments {
    double mean, variance;
};
template <class Draw>
Moments moments_of(int64_t n, Draw draw) {
    double sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) {
        const double x = draw();
        sum += x;
        sum_sq += x * x;
    }
    const double mean = sum / n;
    return {mean, sum_sq / n - mean * mean};
}

}  // namespace

TEST_CASE("Rng: gamma and beta have the mean and variance of their distributions") {
    // 200,000 samples each. The mean's tolerance is 5 standard errors, sqrt(var / n); the variance's a
    // relative 5 standard errors of a sample variance, 5 sqrt((2 + excess kurtosis) / n) (Gamma's excess
    // kurtosis is 6 / k; Beta's is below 2 for the shapes here, so 5 sqrt(4 / n) = 2.2% covers them).
    const int64_t n = 200000;
    Rng rng(123);
    for (double k : {0.3, 1.0, 4.5}) {
        CAPTURE(k);
        const Moments m = moments_of(n, [&] { return rng.gamma(k); });
        CHECK(std::abs(m.mean - k) < 5 * std::sqrt(k / n));          // Gamma(k, 1): mean k
        CHECK(std::abs(m.variance / k - 1) < 5 * std::sqrt((2 + 6 / k) / n));  // variance k
    }
    for (auto ab : {std::pair{0.2, 0.2}, std::pair{1.0, 1.0}, std::pair{2.0, 5.0}, std::pair{0.5, 3.0}}) {
        const double a = ab.first, b = ab.second;  // (clang < 16 cannot capture a structured binding)
        CAPTURE(a);
        CAPTURE(b);
        // Beta(a, b): mean a / (a + b), variance a b / ((a + b)^2 (a + b + 1))
        const double mean = a / (a + b), variance = a * b / ((a + b) * (a + b) * (a + b + 1));
        const Moments m = moments_of(n, [&] { return rng.beta(a, b); });
        CHECK(std::abs(m.mean - mean) < 5 * std::sqrt(variance / n));
        CHECK(std::abs(m.variance / variance - 1) < 0.022);
    }
    // Beta(0.2, 0.2) is U-shaped: P(x < 0.1) = P(x > 0.9) = 0.337 (numerical integration), so about 6,730
    // of 10,000 samples lie near the ends (binomial sd 47)
    int near_ends = 0;
    for (int i = 0; i < 10000; ++i) {
        const double x = rng.beta(0.2, 0.2);
        near_ends += x < 0.1 || x > 0.9;
    }
    CHECK(near_ends > 6000);
    CHECK(contains(thrown_message([&] { rng.gamma(0); }), "Rng::gamma: shape must be positive, got 0"));
    CHECK(contains(thrown_message([&] { rng.beta(1, -1); }), "Rng::beta: shapes must be positive"));
}

TEST_CASE("Rng: beta draws gamma(a) then gamma(b) and nothing else") {
    Rng rng(9), replay(9);
    const double x = rng.beta(0.4, 2.5);
    const double g = replay.gamma(0.4), h = replay.gamma(2.5);
    CHECK(x == g / (g + h));
    CHECK(rng.state() == replay.state());
}
