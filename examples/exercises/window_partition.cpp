// Exercise: Swin's window partition.                             make exercise NAME=window_partition
//
// The forward (nn/window.cpp), for a batch of token grids x (B, H, W, C) and a window size M that divides
// H and W: the grid is cut into nW = (H/M) (W/M) windows of N = M * M tokens,
//     windows[(b * H/M + wy) * W/M + wx, ty * M + tx, c] = x[b, wy * M + ty, wx * M + tx, c]
// Windows are numbered row by row over the window grid (batch outermost), tokens row by row inside a
// window: timm's order. For a 4 x 4 grid holding 4*row + column and M = 2, window 1 is 2 3 6 7.
// Your job: compute windows with reshape and permute, no loops over the numbers: the grader also runs
// autograd backwards through your function and compares with central differences.
//
// Hints, in the order you may want them:
//   1. A row-major (H, W) grid already is a (H/M, M, W/M, M) array: row r = wy * M + ty, column
//      c = wx * M + tx. One reshape names the four indices; no number moves.
//   2. You want (wy, wx) outside and (ty, tx) inside: one permute, then a reshape merges (b, wy, wx) into
//      the window and (ty, tx) into the token (docs/swin_windows.md, section 2).
//
//   x (B, H, W, C)  M  ->  windows (B * nW, M * M, C),  nW = (H/M) (W/M)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor window_partition(const Tensor& x, int64_t M) {
    // Your code here: compute the windows and return them.
    not_implemented("window_partition");
}

}  // namespace learner

// The grader (examples/exercises/grading/window_partition.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, window_partition_info,
                        [](Grader& grader) { grade_window_partition(learner::window_partition, grader); });
}
