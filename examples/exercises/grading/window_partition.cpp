// Grades examples/exercises/window_partition.cpp: a token grid cut into M x M windows.
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo window_partition_info{
    14,
    "window_partition",
    "Swin's window partition",
    "docs/swin_windows.md, section 2",
    "reshape (B, H/M, M, W/M, M, C): row r = wy M + ty, column c = wx M + tx; permute (0, 1, 3, 2, 4, 5) to "
    "(b, wy, wx, ty, tx, c); reshape (B * nW, M*M, C)",
    "you can cut a grid into windows with one reshape, one permute and one reshape, windows row-major and "
    "tokens row-major inside each, as timm orders them",
};

void grade_window_partition(const WindowPartition& learner_fn, Grader& grader) {
    // x (B, H, W, C) and M, smallest first. M = 1: every token its own window. M = H = W: one window, the
    // grid flattened. H != W: a window grid of H/M rows and W/M columns, where swapping them shows.
    struct Case {
        Shape x;
        int64_t M;
    };
    const std::vector<Case> cases = {{{1, 1, 1, 1}, 1}, {{1, 2, 3, 2}, 1}, {{1, 2, 2, 1}, 2}, {{1, 4, 4, 2}, 2},
                                     {{1, 2, 6, 1}, 2}, {{2, 6, 4, 3}, 2}, {{1, 3, 3, 2}, 3}, {{2, 6, 9, 2}, 3}};
    for (const Case& c : cases) {
        const int64_t B = c.x[0], H = c.x[1], W = c.x[2], C = c.x[3], M = c.M;
        grader.begin_case("x " + to_string(c.x) + ", M " + std::to_string(M));
        const Tensor x = grader.random(c.x);  // distinct values: a token in the wrong place shows
        const Tensor windows = grader.call([&] { return learner_fn(x, M); });
        grader.expect_shape("windows", windows, {B * (H / M) * (W / M), M * M, C});
        grader.expect_close("windows", windows, window_partition(x, M), kExact,
                            "window_partition(x, M), nn/window.h; windows[w, t, c] with w = (b H/M + wy) W/M + wx, "
                            "t = ty M + tx");
        grader.expect_gradients_flow(
            "windows", [&](const std::vector<Tensor>& in) { return learner_fn(in[0], M); }, {x}, {"x"});
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
