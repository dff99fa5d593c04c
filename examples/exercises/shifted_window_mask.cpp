// Exercise: Swin's shifted-window mask.                          make exercise NAME=shifted_window_mask
//
// A shifted-window block rolls its H x W grid up and left by `shift` (cyclic_shift, nn/window.h), then
// cuts it into M x M windows (window_partition, exercise 9). The windows of the last row band and the last
// column band then hold tokens that wrapped around from the other side of the image next to tokens that
// did not: they must not attend to each other. The mask, added to the attention scores, says so:
//     mask[w, i, j] = 0     if query i and key j of window w lie in the same region of the shifted grid
//                   = -100  otherwise          (e^-100 ~ 4e-44: no attention, and never a NaN)
// The regions: on each axis of length n (H for rows, W for columns) three bands, timm's slices
//     band 0 = [0, n - M)     band 1 = [n - M, n - shift)     band 2 = [n - shift, n)
// and the region of token (r, c) of the shifted grid is 3 * band(r, H) + band(c, W): nine regions.
// Windows are numbered row by row over the window grid, tokens row by row inside a window, as in exercise 9.
// Your job: build the mask. It is a constant (no gradient): plain loops are the clearest.
//
// Hints, in the order you may want them:
//   1. Draw the labels of an 8 x 8 grid, M = 4, shift = 2 (docs/swin_windows.md, section 4, has the
//      picture): window 0 is one region, windows 1 and 2 two each, window 3 four.
//   2. Token t of window w sits at row (w / (W/M)) * M + t / M and column (w % (W/M)) * M + t % M of the
//      shifted grid. Or: fill a (1, H, W, 1) tensor with the labels and call window_partition on it.
//   3. shift = 0: band 2 is empty and bands 0 and 1 never share a window, so the mask is all zeros.
//
//   H  W  M  shift (0 <= shift < M; M divides H and W)  ->  mask (nW, M*M, M*M),  nW = (H/M) (W/M)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor shifted_window_mask(int64_t H, int64_t W, int64_t M, int64_t shift) {
    // Your code here: build the mask and return it.
    not_implemented("shifted_window_mask");
}

}  // namespace learner

// The grader (examples/exercises/grading/shifted_window_mask.cpp) calls your function on several grids.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, shifted_window_mask_info,
                        [](Grader& grader) { grade_shifted_window_mask(learner::shifted_window_mask, grader); });
}
