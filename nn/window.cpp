// The geometry of the Swin Transformer: windows, the cyclic shift and its mask, the relative position
// bias, patch merging. Legend and contracts in nn/window.h; the story in docs/swin_windows.md.
//
// The functions that move values are compositions of reshape (no copy), permute (one copy), roll and
// index_select, so their gradients come from those ops' backwards. The reshape/permute trick works
// because a row-major (H, W) grid already *is* a (H/M, M, W/M, M) array: row r = wy * M + ty and column
// c = wx * M + tx. Reordering those four indices to (wy, wx, ty, tx) lists the windows row-major, and
// the tokens row-major inside each window.
#include "nn/window.h"

#include <cmath>
#include <string>
#include <vector>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// window_partition: (B, H, W, C) -> (B * nW, N, C)                       (timm: window_partition)
//   (B, H, W, C)
//   reshape  (B, H/M, M, W/M, M, C)      row r = wy * M + ty, column c = wx * M + tx
//   permute  (B, H/M, W/M, M, M, C)      dims (0, 1, 3, 2, 4, 5): (b, wy, wx, ty, tx, c)
//   reshape  (B * nW, N, C)              window w = (b * H/M + wy) * W/M + wx, token t = ty * M + tx
Tensor window_partition(const Tensor& x, int64_t M) {
    check(x.dim() == 4, "window_partition: x of shape ", x.shape(), " must be (B, H, W, C)");
    const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
    check(M > 0 && H % M == 0 && W % M == 0, "window_partition: the grid of x of shape ", x.shape(),
          " is ", H, " x ", W, ", which window size M = ", M, " does not divide (H and W must be multiples of M)");
    Tensor grid = reshape(x, {B, H / M, M, W / M, M, C});
    Tensor windows = permute(grid, {0, 1, 3, 2, 4, 5});  // (B, H/M, W/M, M, M, C)
    return reshape(windows, {B * (H / M) * (W / M), M * M, C});
}

// window_reverse: (B * nW, N, C) -> (B, H, W, C)                         (timm: window_reverse)
//   The same three steps backwards; the permutation (0, 1, 3, 2, 4, 5) is its own inverse.
//   (B * nW, N, C)
//   reshape  (B, H/M, W/M, M, M, C)      (b, wy, wx, ty, tx, c)
//   permute  (B, H/M, M, W/M, M, C)      (b, wy, ty, wx, tx, c)
//   reshape  (B, H, W, C)
Tensor window_reverse(const Tensor& windows, int64_t M, int64_t H, int64_t W) {
    check(windows.dim() == 3, "window_reverse: windows of shape ", windows.shape(), " must be (B * nW, N, C)");
    check(M > 0 && H > 0 && W > 0 && H % M == 0 && W % M == 0, "window_reverse: a ", H, " x ", W,
          " grid cannot be cut into windows of size M = ", M, " (H and W must be multiples of M); windows of shape ",
          windows.shape());
    const int64_t nW = (H / M) * (W / M);
    const int64_t C = windows.size(2);
    check(windows.size(1) == M * M && windows.size(0) % nW == 0, "window_reverse: windows of shape ",
          windows.shape(), " do not fit a ", H, " x ", W, " grid with M = ", M, ": expected (B * ", nW, ", ", M * M,
          ", C), a multiple of nW = ", nW, " windows of N = M * M = ", M * M, " tokens");
    const int64_t B = windows.size(0) / nW;
    Tensor grid = reshape(windows, {B, H / M, W / M, M, M, C});
    Tensor rows = permute(grid, {0, 1, 3, 2, 4, 5});  // (B, H/M, M, W/M, M, C)
    return reshape(rows, {B, H, W, C});
}

// relative_position_index: index[i][j] for tokens i = (yi, xi), j = (yj, xj)   (timm: get_relative_position_index)
//   dy = yi - yj and dx = xi - xj each lie in -(M-1) .. M-1: 2M - 1 values. Adding M - 1 makes them
//   0 .. 2M-2, and (dy + M - 1) * (2M - 1) + (dx + M - 1) numbers the (2M - 1)^2 offsets row-major.
//   Two pairs of tokens with the same offset get the same index, so they share one learned bias.
Tensor relative_position_index(int64_t M) {
    check(M > 0, "relative_position_index: window size M = ", M, " must be positive");
    const int64_t N = M * M;
    Tensor index = Tensor::empty({N, N});  // (N, N)
    Scalar* out = index.data();
    for (int64_t i = 0; i < N; ++i) {
        const int64_t yi = i / M, xi = i % M;
        for (int64_t j = 0; j < N; ++j) {
            const int64_t yj = j / M, xj = j % M;
            out[i * N + j] = static_cast<Scalar>((yi - yj + M - 1) * (2 * M - 1) + (xi - xj + M - 1));
        }
    }
    return index;
}

// relative_position_bias: bias[h][i][j] = table[index[i][j]][h]           (timm: _get_rel_pos_bias)
//   table ((2M-1)^2, nH), index (N, N)
//   index_select along dim 0 with the flattened index   (N * N, nH)    row i * N + j = table[index[i][j]]
//   reshape                                             (N, N, nH)
//   permute (2, 0, 1)                                   (nH, N, N)     one (N, N) bias per head
//   index_select's backward adds dbias back into the table rows it read: an offset shared by many
//   (i, j) pairs collects the sum of all their gradients.
Tensor relative_position_bias(const Tensor& table, const Tensor& index) {
    check(table.dim() == 2, "relative_position_bias: table of shape ", table.shape(), " must be ((2M-1)^2, nH)");
    check(index.dim() == 2 && index.size(0) == index.size(1), "relative_position_bias: index of shape ",
          index.shape(), " must be square (N, N); table of shape ", table.shape());
    const int64_t N = index.size(0);
    int64_t M = 0;  // the window size, from N = M * M
    while ((M + 1) * (M + 1) <= N) ++M;
    check(M * M == N && table.size(0) == (2 * M - 1) * (2 * M - 1), "relative_position_bias: index of shape ",
          index.shape(), " and table of shape ", table.shape(), " disagree: N = ", N, " tokens per window needs ",
          "N = M * M and a table of (2M - 1)^2 rows");
    const int64_t rows = table.size(0), heads = table.size(1);
    std::vector<int64_t> flat(N * N);  // index read row-major: entry i * N + j
    for (int64_t k = 0; k < N * N; ++k) {
        const Scalar value = index.data()[k];
        check(value >= 0 && value < static_cast<Scalar>(rows) &&
                  value == static_cast<Scalar>(static_cast<int64_t>(value)),
              "relative_position_bias: index value ", value, " at position ", k, " of index ", index.shape(),
              " is not a whole number in 0 .. ", rows - 1, " (the rows of table of shape ", table.shape(), ")");
        flat[k] = static_cast<int64_t>(value);
    }
    Tensor picked = index_select(table, 0, flat);           // (N * N, nH)
    Tensor per_pair = reshape(picked, {N, N, heads});        // (N, N, nH)
    return permute(per_pair, {2, 0, 1});                     // (nH, N, N)
}

// shifted_window_mask: (nW, N, N), 0 within a region, -100 across regions   (timm: SwinTransformerBlock)
//   After the cyclic shift, the last row band of windows holds rows from the bottom of the image *and*
//   rows that wrapped around from the top; likewise for the last column band. Label each token of the
//   shifted grid by its band on each axis, timm's slices:
//     band 0 = [0, n - M)   band 1 = [n - M, n - shift)   band 2 = [n - shift, n)     (n = H or W)
//     region = 3 * row band + column band                                              (9 regions)
//   Cut the (1, H, W, 1) label grid into windows exactly as the tokens are (window_partition), then
//     mask[w][i][j] = 0 if label[w][i] == label[w][j] else -100
//   Band 0 never shares a window with bands 1 and 2 (n - M is a multiple of M), so inside a window the
//   labels only separate tokens that wrapped from those that did not. With shift 0 nothing wrapped and
//   the mask is all zeros (band 2 is empty; timm builds no mask at all), returned directly.
Tensor shifted_window_mask(int64_t H, int64_t W, int64_t M, int64_t shift) {
    check(M > 0 && H > 0 && W > 0 && H % M == 0 && W % M == 0, "shifted_window_mask: a ", H, " x ", W,
          " grid cannot be cut into windows of size M = ", M, " (H and W must be multiples of M)");
    check(shift >= 0 && shift < M, "shifted_window_mask: shift ", shift, " must be in 0 .. M - 1 = ", M - 1,
          " (grid ", H, " x ", W, ", M = ", M, ")");
    const int64_t nW = (H / M) * (W / M), N = M * M;
    if (shift == 0) return Tensor::zeros({nW, N, N});
    const auto band = [M, shift](int64_t i, int64_t n) -> int64_t {
        if (i < n - M) return 0;
        return i < n - shift ? 1 : 2;
    };
    Tensor labels = Tensor::empty({1, H, W, 1});  // (1, H, W, 1): the region of each token of the shifted grid
    for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) labels.data()[r * W + c] = static_cast<Scalar>(3 * band(r, H) + band(c, W));
    Tensor window_labels = window_partition(labels, M);  // (nW, N, 1)
    const Scalar* label = window_labels.data();
    Tensor mask = Tensor::empty({nW, N, N});  // (nW, N, N)
    Scalar* out = mask.data();
    for (int64_t w = 0; w < nW; ++w)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
                out[(w * N + i) * N + j] = label[w * N + i] == label[w * N + j] ? Scalar(0) : Scalar(-100);
    return mask;
}

// cyclic_shift: roll the 2D grid up and left by `shift`                    (timm: torch.roll(x, (-s, -s), (1, 2)))
//   x (B, H, W, C) -> (B, H, W, C);  out[b][r][c] = x[b][(r + shift) mod H][(c + shift) mod W]
//   A roll of the grid's two axes, never of the flattened H * W sequence (docs/swin_windows.md, section 3).
Tensor cyclic_shift(const Tensor& x, int64_t shift) {
    check(x.dim() == 4, "cyclic_shift: x of shape ", x.shape(), " must be (B, H, W, C)");
    return roll(x, {-shift, -shift}, {1, 2});
}

// reverse_cyclic_shift: roll back down and right by `shift`; reverse_cyclic_shift(cyclic_shift(x, s), s) == x.
Tensor reverse_cyclic_shift(const Tensor& x, int64_t shift) {
    check(x.dim() == 4, "reverse_cyclic_shift: x of shape ", x.shape(), " must be (B, H, W, C)");
    return roll(x, {shift, shift}, {1, 2});
}

// patch_merging_gather: 2 x 2 neighbours -> one token of 4C channels       (timm: PatchMerging)
//   Token (r, c) of the grid is row r = 2i + dy, column c = 2j + dx with dy, dx in {0, 1}. timm's
//   concat [x0, x1, x2, x3] = [(dy, dx) = (0, 0), (1, 0), (0, 1), (1, 1)] puts channel block k = 2 dx + dy:
//   dx is the outer of the two. So one reshape/permute does the four strided slices and the concat:
//   (B, H * W, C)
//   reshape  (B, H/2, 2, W/2, 2, C)      (b, i, dy, j, dx, c)
//   permute  (B, H/2, W/2, 2, 2, C)      dims (0, 1, 3, 4, 2, 5): (b, i, j, dx, dy, c)
//   reshape  (B, H/2 * W/2, 4C)          channel (2 dx + dy) * C + c
//   tests/test_window.cpp checks it against the literal slices and concat, values and gradients.
Tensor patch_merging_gather(const Tensor& x, int64_t H, int64_t W) {
    check(x.dim() == 3, "patch_merging_gather: x of shape ", x.shape(), " must be (B, H * W, C)");
    check(H > 0 && W > 0 && H % 2 == 0 && W % 2 == 0 && x.size(1) == H * W, "patch_merging_gather: x of shape ",
          x.shape(), " must be (B, H * W, C) for a ", H, " x ", W, " grid, with H and W even (H * W = ", H * W, ")");
    const int64_t B = x.size(0), C = x.size(2);
    Tensor grid = reshape(x, {B, H / 2, 2, W / 2, 2, C});    // (b, i, dy, j, dx, c)
    Tensor blocks = permute(grid, {0, 1, 3, 4, 2, 5});       // (b, i, j, dx, dy, c)
    return reshape(blocks, {B, (H / 2) * (W / 2), 4 * C});   // (B, H/2 * W/2, 4C)
}

Tensor patch_merging_gather_reference(const Tensor& x, int64_t H, int64_t W) {
    check(x.dim() == 3 && H % 2 == 0 && W % 2 == 0 && x.size(1) == H * W, "patch_merging_gather_reference: x of ",
          "shape ", x.shape(), " must be (B, H * W, C) for a ", H, " x ", W, " grid, with H and W even");
    const int64_t B = x.size(0), C = x.size(2);
    const Tensor grid = reshape(x, {B, H, W, C});
    // x[:, dy::2, dx::2, :]: every other row from dy, every other column from dx
    auto quarter = [&](int64_t dy, int64_t dx) { return slice(slice(grid, 1, dy, H, 2), 2, dx, W, 2); };
    const Tensor merged = concat({quarter(0, 0), quarter(1, 0), quarter(0, 1), quarter(1, 1)}, -1);  // (B, H/2, W/2, 4C)
    return reshape(merged, {B, (H / 2) * (W / 2), 4 * C});
}

// window_token_order: the grid indices 0 .. H*W-1, as a (1, H, W, 1) tensor, go through the real
//   cyclic_shift and window_partition; where each index lands is the order. (Scalar holds whole numbers
//   exactly up to 2^24 in float, far beyond any grid here; checked.)
std::vector<int64_t> window_token_order(int64_t H, int64_t W, int64_t M, int64_t shift) {
    check(H * W <= (int64_t(1) << 24), "window_token_order: a ", H, "x", W, " grid is too large to index");
    NoGradGuard no_grad;
    Tensor grid = Tensor::arange(H * W);
    grid = reshape(grid, {1, H, W, 1});
    if (shift > 0) grid = cyclic_shift(grid, shift);
    const Tensor windows = window_partition(grid, M);  // (nW, N, 1): the grid index of each position
    std::vector<int64_t> order(static_cast<size_t>(H * W));
    for (int64_t k = 0; k < H * W; ++k) order[k] = static_cast<int64_t>(std::llround(windows.data()[k]));
    return order;
}

std::vector<int64_t> inverse_order(const std::vector<int64_t>& order) {
    const int64_t n = static_cast<int64_t>(order.size());
    std::vector<int64_t> inverse(order.size(), -1);
    for (int64_t k = 0; k < n; ++k) {
        check(order[k] >= 0 && order[k] < n && inverse[order[k]] < 0, "inverse_order: entry ", k, " = ",
              order[k], " is out of range or repeated: not a permutation of 0 .. ", n - 1);
        inverse[order[k]] = k;
    }
    return inverse;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
