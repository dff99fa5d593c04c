// Grades examples/exercises/window_reverse.cpp: windows glued back into the token grid.
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo window_reverse_info{
    15,
    "window_reverse",
    "Swin's window reverse",
    "docs/swin_windows.md, section 2",
    "reshape (B, H/M, W/M, M, M, C) = (b, wy, wx, ty, tx, c), B = windows.size(0) / nW; permute (0, 1, 3, 2, 4, 5) "
    "to (b, wy, ty, wx, tx, c); reshape (B, H, W, C)",
    "you can undo the window partition: the same three steps backwards, the permutation being its own inverse",
};

void grade_window_reverse(const WindowReverse& learner_fn, Grader& grader) {
    // (B, H, W, C) of the grid and M, smallest first; the windows are (B * nW, M*M, C). M = H = W: one
    // window per image, so B is the number of windows. H != W: swapping the two shows.
    struct Case {
        Shape grid;
        int64_t M;
    };
    const std::vector<Case> cases = {{{1, 1, 1, 1}, 1}, {{1, 2, 3, 2}, 1}, {{3, 2, 2, 1}, 2}, {{1, 4, 4, 2}, 2},
                                     {{1, 2, 6, 1}, 2}, {{2, 6, 4, 3}, 2}, {{2, 3, 3, 2}, 3}, {{2, 6, 9, 2}, 3}};
    for (const Case& c : cases) {
        const int64_t B = c.grid[0], H = c.grid[1], W = c.grid[2], C = c.grid[3], M = c.M;
        const int64_t nW = (H / M) * (W / M);
        grader.begin_case("windows " + to_string(Shape{B * nW, M * M, C}) + ", M " + std::to_string(M) + ", H " +
                          std::to_string(H) + ", W " + std::to_string(W));
        const Tensor windows = grader.random({B * nW, M * M, C});  // distinct values: a misplaced token shows
        const Tensor grid = grader.call([&] { return learner_fn(windows, M, H, W); });
        grader.expect_shape("grid", grid, c.grid);
        grader.expect_close("grid", grid, window_reverse(windows, M, H, W), kExact,
                            "window_reverse(windows, M, H, W), nn/window.h");
        // The round trip: partition, then your reverse, gives back the grid it started from.
        const Tensor x = grader.random(c.grid);
        const Tensor back = grader.call([&] { return learner_fn(window_partition(x, M), M, H, W); });
        grader.expect_close("window_reverse(window_partition(x, M), M, H, W)", back, x, kExact,
                            "x itself: reverse must undo the partition");
        grader.expect_gradients_flow(
            "grid", [&](const std::vector<Tensor>& in) { return learner_fn(in[0], M, H, W); }, {windows},
            {"windows"});
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
