// Grades examples/exercises/shifted_window_mask.cpp: the attention mask of a shifted-window block.
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo shifted_window_mask_info{
    16,
    "shifted_window_mask",
    "Swin's shifted-window mask",
    "docs/swin_windows.md, section 4",
    "label each token (r, c) of the shifted grid 3 * band(r, H) + band(c, W), bands [0, n-M), [n-M, n-shift), "
    "[n-shift, n); cut the labels into windows as window_partition cuts tokens; mask[w, i, j] = 0 if token i "
    "and token j of window w have the same label, else -100",
    "you know which tokens of a cyclically shifted window were neighbours in the image, window by window",
};

void grade_shifted_window_mask(const ShiftedWindowMask& learner_fn, Grader& grader) {
    // (H, W, M, shift), smallest first. shift 0: nothing wrapped, all zeros. M = H = W: one window, which
    // holds all four corners. Several shifts for one M: each moves the band edge n - shift. H != W: a row
    // band and a column band of different lengths, where swapping H and W shows.
    struct Case {
        int64_t H, W, M, shift;
    };
    const std::vector<Case> cases = {{2, 2, 2, 0}, {4, 4, 2, 0}, {2, 2, 2, 1}, {4, 4, 2, 1}, {3, 3, 3, 1},
                                     {3, 3, 3, 2}, {8, 8, 4, 2}, {8, 8, 4, 1}, {8, 8, 4, 3}, {4, 8, 4, 2},
                                     {12, 8, 4, 1}, {6, 9, 3, 2}};
    for (const Case& c : cases) {
        grader.begin_case("H " + std::to_string(c.H) + ", W " + std::to_string(c.W) + ", M " + std::to_string(c.M) +
                          ", shift " + std::to_string(c.shift));
        const Tensor mask = grader.call([&] { return learner_fn(c.H, c.W, c.M, c.shift); });
        const int64_t nW = (c.H / c.M) * (c.W / c.M), N = c.M * c.M;
        grader.expect_shape("mask", mask, {nW, N, N});
        grader.expect_close("mask", mask, shifted_window_mask(c.H, c.W, c.M, c.shift), kExact,
                            "shifted_window_mask(H, W, M, shift), nn/window.h; mask[w, i, j], 0 or -100");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
