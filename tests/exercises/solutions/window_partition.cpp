// A reference solution of examples/exercises/window_partition.cpp, kept apart from the skeleton.
// docs/swin_windows.md, section 2: row r = wy M + ty, column c = wx M + tx.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor window_partition(const Tensor& x, int64_t M) {
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    const Tensor grid = reshape(x, {B, H / M, M, W / M, M, C});   // (b, wy, ty, wx, tx, c)
    const Tensor windows = permute(grid, {0, 1, 3, 2, 4, 5});     // (b, wy, wx, ty, tx, c)
    return reshape(windows, {B * (H / M) * (W / M), M * M, C});   // (B * nW, N, C)
}

}  // namespace solution
