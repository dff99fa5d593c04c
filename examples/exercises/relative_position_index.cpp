// Exercise: Swin's relative position index.                      make exercise NAME=relative_position_index
//
// Inside an M x M window, token t sits at (y, x) = (t / M, t % M). Swin learns one attention bias per
// head for every offset (dy, dx) = (yi - yj, xi - xj) between a query i and a key j, not per pair: each of
// dy and dx lies in -(M-1) .. M-1, so there are (2M - 1)^2 offsets, the rows of the parameter
// relative_position_bias_table ((2M - 1)^2, nH), numbered row-major over (dy, dx) from (-(M-1), -(M-1)).
// The index says which row each pair reads:
//     index[i, j] = the row of offset (yi - yj, xi - xj)
// Your job: build index (N, N), N = M * M, as whole numbers. A constant (no gradient): plain loops.
//
// Hints, in the order you may want them:
//   1. Shift each offset to start at 0: dy + M - 1 is in 0 .. 2M - 2. Then number the (dy, dx) grid row by
//      row, as you would the pixels of a (2M - 1) x (2M - 1) image.
//   2. Check M = 2 by hand against docs/swin_windows.md, section 5: row 0 of index is 4 3 1 0, and the
//      diagonal is 4, offset (0, 0).
//
//   M  ->  index (M*M, M*M), whole numbers in 0 .. (2M - 1)^2 - 1
#include "examples/exercises/exercise.h"

namespace learner {

Tensor relative_position_index(int64_t M) {
    // Your code here: build the index and return it.
    not_implemented("relative_position_index");
}

}  // namespace learner

// The grader (examples/exercises/grading/relative_position_index.cpp) calls your function for M = 1 .. 5.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, relative_position_index_info, [](Grader& grader) {
        grade_relative_position_index(learner::relative_position_index, grader);
    });
}
