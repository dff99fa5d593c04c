// Exercise: Swin's window reverse.                               make exercise NAME=window_reverse
//
// The inverse of window_partition (exercise 9; nn/window.cpp): windows (B * nW, N, C), N = M * M tokens
// each, glued back into B grids of H x W tokens, nW = (H/M) (W/M) windows per image:
//     grid[b, wy * M + ty, wx * M + tx, c] = windows[(b * H/M + wy) * W/M + wx, ty * M + tx, c]
// Windows are numbered row by row over the window grid (batch outermost), tokens row by row inside a
// window. B is not an argument: it is windows.size(0) / nW.
// Your job: compute the grid with reshape and permute, no loops over the numbers: the grader also runs
// autograd backwards through your function and compares with central differences.
//
// Hints, in the order you may want them:
//   1. Name the indices first: a reshape to (B, H/M, W/M, M, M, C) is (b, wy, wx, ty, tx, c).
//   2. A grid row is (wy, ty) and a column (wx, tx): one permute, then a reshape merges them
//      (docs/swin_windows.md, section 2). Which permutation undoes (0, 1, 3, 2, 4, 5)?
//
//   windows (B * nW, M * M, C)  M  H  W  ->  grid (B, H, W, C)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor window_reverse(const Tensor& windows, int64_t M, int64_t H, int64_t W) {
    // Your code here: compute the grid and return it.
    not_implemented("window_reverse");
}

}  // namespace learner

// The grader (examples/exercises/grading/window_reverse.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, window_reverse_info,
                        [](Grader& grader) { grade_window_reverse(learner::window_reverse, grader); });
}
