// Exercise: augmentation, crop and flip.                        make exercise NAME=crop_and_flip
//
// The training loader (datasets/dataloader.cpp) shows the model each image shifted and, for CIFAR-10,
// mirrored at random (docs/data.md, "Augmentation"): pad the image with P black pixels on every side, cut
// an H x W window whose corner (dy, dx) in the padded image is random in [0, 2P], then mirror left-right
// with probability 1/2. (dy, dx) = (P, P) without a flip gives the image back.
// Your job: one such transform, with dy, dx and flip given.
//
// Hints, in the order you may want them:
//   1. Output pixel (y, x) of the window is padded pixel (y + dy, x + dx), which is image pixel
//      (y + dy - P, x + dx - P), or black (0) when that falls outside the image.
//   2. The flip mirrors the window: read column W - 1 - x instead of x.
//   3. Loops over c, y, x on image.data(), offset (c * H + y) * W + x (exercise 1).
//
//   image (C, H, W), dy and dx in [0, 2P], P >= 0, flip  ->  (C, H, W)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor crop_and_flip(const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
    // Your code here: build the window and return it.
    not_implemented("crop_and_flip");
}

}  // namespace learner

// The grader (examples/exercises/grading/crop_and_flip.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, crop_and_flip_info,
                        [](Grader& grader) { grade_crop_and_flip(learner::crop_and_flip, grader); });
}
