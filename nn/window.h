#pragma once
// The geometry of the Swin Transformer (Liu et al. 2021), as plain functions built from existing ops:
// cutting a token grid into windows and gluing it back, the cyclic shift and its mask, the relative
// position bias, and patch merging. The names and orders are timm's (timm/models/swin_transformer.py),
// so a timm checkpoint's relative_position_bias_table and the tokens' order map one to one.
// docs/swin_windows.md tells the story with pictures; tests/test_window.cpp checks every claim.
//
// Legend:
//   B   batch
//   H W the token grid: H rows, W columns (a Swin stage's resolution)
//   C   channels
//   M   window size: a window is M x M tokens
//   nW  windows per image = (H / M) * (W / M)
//   N   tokens per window = M * M
//   nH  attention heads
//
// Every function that carries values is composed from differentiable ops (reshape, permute, roll,
// index_select), so gradients flow through it with no backward of its own. The index and the mask are
// constants (whole numbers and 0 / -100, no gradient), built by plain loops.
#include <cstdint>
#include <vector>

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// window_partition: cut each image's grid into M x M windows.
//   x (B, H, W, C) -> (B * nW, N, C); windows in row-major order of the window grid (then batch
//   outermost), tokens row-major inside a window. H and W must be multiples of M.
Tensor window_partition(const Tensor& x, int64_t M);

// window_reverse: the inverse of window_partition.
//   windows (B * nW, N, C) -> (B, H, W, C), with nW = (H / M) * (W / M) and N = M * M.
Tensor window_reverse(const Tensor& windows, int64_t M, int64_t H, int64_t W);

// relative_position_index: (N, N) whole numbers. For tokens i = (yi, xi) and j = (yj, xj) of a window,
//   index[i][j] = (yi - yj + M - 1) * (2M - 1) + (xi - xj + M - 1),   in 0 .. (2M - 1)^2 - 1,
// the row of the ((2M - 1)^2, nH) relative_position_bias_table that holds the bias for that offset.
Tensor relative_position_index(int64_t M);

// relative_position_bias: bias[h][i][j] = table[index[i][j]][h]
//   table ((2M - 1)^2, nH) (a parameter), index (N, N) from relative_position_index(M) -> (nH, N, N)
//   Gradient flows into the table; a row read by several (i, j) pairs receives the sum of their grads.
Tensor relative_position_bias(const Tensor& table, const Tensor& index);

// shifted_window_mask: the additive attention mask of a shifted-window block.
//   -> (nW, N, N): mask[w][i][j] = 0 when query i and key j of window w lie in the same region of the
//   cyclically shifted grid, -100 otherwise (timm's value; softmax turns it into e^-100 ~ 4e-44).
//   Regions: timm's slices (0, -M), (-M, -shift), (-shift, None) on each axis, labelled 3 * row + column
//   (9 regions). shift in 0 .. M - 1; shift 0 (no shift) gives all zeros.
Tensor shifted_window_mask(int64_t H, int64_t W, int64_t M, int64_t shift);

// cyclic_shift: x (B, H, W, C) rolled by (-shift, -shift) over dims (1, 2): out[b][r][c] =
// x[b][(r + shift) mod H][(c + shift) mod W]. reverse_cyclic_shift rolls by (+shift, +shift), undoing it.
Tensor cyclic_shift(const Tensor& x, int64_t shift);
Tensor reverse_cyclic_shift(const Tensor& x, int64_t shift);

// window_token_order: the cyclic shift and the window partition in one, as a permutation of the tokens.
//   -> order (H * W): order[k] is the row-major grid index r * W + c of the token that
//   window_partition(cyclic_shift(grid, shift), M) puts at flat position k = w * N + t (window w, token t).
//   Both steps only reorder tokens, so together they are one reordering: a block gathers its windows with
//   index_select(tokens (B, H*W, C), 1, order), one copy instead of two, and scatters them back with the
//   inverse order (inverse_order). shift 0: the plain partition. Computed by running cyclic_shift and
//   window_partition on the grid indices themselves, so it cannot disagree with them.
std::vector<int64_t> window_token_order(int64_t H, int64_t W, int64_t M, int64_t shift);
// inverse[order[k]] = k: the permutation that undoes `order` (order must be a permutation of 0 .. n-1).
std::vector<int64_t> inverse_order(const std::vector<int64_t>& order);

// patch_merging_gather: each 2 x 2 block of neighbours becomes one token with 4C channels.
//   x (B, H * W, C) -> (B, H/2 * W/2, 4C), channels in timm's order [x0, x1, x2, x3] with (rows first)
//   x0 = x[:, 0::2, 0::2]   x1 = x[:, 1::2, 0::2]   x2 = x[:, 0::2, 1::2]   x3 = x[:, 1::2, 1::2]
//   H and W must be even. (PatchMerging then applies LayerNorm(4C) and Linear(4C -> 2C).)
Tensor patch_merging_gather(const Tensor& x, int64_t H, int64_t W);
// patch_merging_gather_reference: the same as the paper writes it, four strided slices of the grid
// concatenated along the channels, [x0, x1, x2, x3] as above. The one reshape/permute above is its fast twin.
Tensor patch_merging_gather_reference(const Tensor& x, int64_t H, int64_t W);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
