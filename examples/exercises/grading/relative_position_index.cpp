// Grades examples/exercises/relative_position_index.cpp: which bias-table row each pair of tokens reads.
#include "examples/exercises/grading/exercises.h"
#include "nn/window.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo relative_position_index_info{
    17,
    "relative_position_index",
    "Swin's relative position index",
    "docs/swin_windows.md, section 5",
    "index[i][j] = (yi - yj + M - 1) * (2M - 1) + (xi - xj + M - 1), token t at (y, x) = (t / M, t % M)",
    "you can number the (2M - 1)^2 offsets between two tokens of a window, so that every pair with the same "
    "offset shares one learned bias, in the order of timm's relative_position_bias_table",
};

void grade_relative_position_index(const RelativePositionIndex& learner_fn, Grader& grader) {
    // M = 1: one token, offset (0, 0), index 0. M = 2 is the table of docs/swin_windows.md, section 5.
    for (int64_t M = 1; M <= 5; ++M) {
        grader.begin_case("M " + std::to_string(M));
        const Tensor index = grader.call([&] { return learner_fn(M); });
        grader.expect_shape("index", index, {M * M, M * M});
        grader.expect_close("index", index, relative_position_index(M), kExact,
                            "relative_position_index(M), nn/window.h; index[i, j], query i, key j");
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
