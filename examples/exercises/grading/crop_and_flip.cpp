// Grades examples/exercises/crop_and_flip.cpp: data augmentation, a random crop with padding and a flip.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo crop_and_flip_info{
    19,
    "crop_and_flip",
    "augmentation: a crop of the padded image, then a mirror",
    "docs/data.md, section Augmentation: random crop and horizontal flip",
    "out[c, y, x] = image[c, y + dy - P, sx + dx - P] with sx = flip ? W - 1 - x : x, and 0 outside the image",
    "you can shift and mirror an image exactly as the training loader does, padding with black",
};

namespace {

// The expectation, built without the formula: pad with zeros by concatenation, cut the window with slices,
// mirror with a reversed index_select.
Tensor padded_crop_flip(const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
    const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
    Tensor padded = concat({Tensor::zeros({C, P, W}), image, Tensor::zeros({C, P, W})}, 1);  // (C, H+2P, W)
    padded = concat({Tensor::zeros({C, H + 2 * P, P}), padded, Tensor::zeros({C, H + 2 * P, P})}, 2);
    Tensor window = slice(slice(padded, 1, dy, dy + H), 2, dx, dx + W);                    // (C, H, W)
    if (!flip) return window;
    std::vector<int64_t> reversed(W);
    for (int64_t x = 0; x < W; ++x) reversed[x] = W - 1 - x;
    return index_select(window, 2, reversed);
}

}  // namespace

void grade_crop_and_flip(const CropAndFlip& learner_fn, Grader& grader) {
    struct Case {
        Shape shape;
        int64_t P;
    };
    // Smallest first; the padding of 0 is the identity crop, and (3, 32, 32) with P 4 is CIFAR-10's.
    const std::vector<Case> cases = {{{1, 2, 3}, 0}, {{1, 3, 3}, 1}, {{2, 4, 5}, 2}, {{3, 32, 32}, 4}};
    for (const Case& c : cases) {
        for (int trial = 0; trial < 4; ++trial) {
            const int64_t dy = grader.random_int(0, 2 * c.P), dx = grader.random_int(0, 2 * c.P);
            const bool flip = trial % 2 == 1;
            grader.begin_case("image " + to_string(c.shape) + ", P " + std::to_string(c.P) + ", dy " +
                              std::to_string(dy) + ", dx " + std::to_string(dx) + (flip ? ", flipped" : ""));
            const Tensor image = grader.random(c.shape, 0.5, 1.5);  // never 0, so padding shows
            const Tensor got = grader.call([&] { return learner_fn(image, dy, dx, c.P, flip); });
            grader.expect_close("out", got, padded_crop_flip(image, dy, dx, c.P, flip), kExact,
                                "pad with zeros, cut the H x W window at (dy, dx), mirror");
        }
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
