// A reference solution of examples/exercises/window_reverse.cpp, kept apart from the skeleton.
// docs/swin_windows.md, section 2: window_partition's three steps backwards.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor window_reverse(const Tensor& windows, int64_t M, int64_t H, int64_t W) {
    const int64_t C = windows.size(2), B = windows.size(0) / ((H / M) * (W / M));
    const Tensor split = reshape(windows, {B, H / M, W / M, M, M, C});  // (b, wy, wx, ty, tx, c)
    const Tensor rows = permute(split, {0, 1, 3, 2, 4, 5});             // (b, wy, ty, wx, tx, c)
    return reshape(rows, {B, H, W, C});                                 // (B, H, W, C)
}

}  // namespace solution
