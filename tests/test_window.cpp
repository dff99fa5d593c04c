// Swin's window geometry (nn/window.cpp): window_partition / window_reverse, cyclic_shift and its
// reverse, relative_position_index / relative_position_bias, shifted_window_mask, patch_merging_gather.
// Values by hand, brute-force index arithmetic, gradient checks, bad shapes that must be named; and the
// key claim of the shifted-window mask: after softmax, tokens from different regions do not see each other.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "nn/window.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// 0, 1, ..., numel-1 in the given shape.
Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }

// The same numbers, exactly, and the same shape.
bool same_values(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

// The gradient of sum(f(x) * probe) with respect to x, for a fresh x.
Tensor grad_of(const std::function<Tensor(const Tensor&)>& f, const Tensor& x_value, const Tensor& probe) {
    Tensor x = x_value.detach();
    x.requires_grad_(true);
    sum(f(x) * probe).backward();
    return x.grad();
}

// For a grid and shift, where each token of the shifted grid came from: cyclic_shift applied to a grid
// holding each token's own (row, column), then cut into windows like the tokens: (nW, N, 2).
Tensor original_coordinates(int64_t H, int64_t W, int64_t M, int64_t shift) {
    Tensor coords = Tensor::empty({1, H, W, 2});
    for (int64_t r = 0; r < H; ++r)
        for (int64_t c = 0; c < W; ++c) {
            coords.data()[(r * W + c) * 2] = static_cast<Scalar>(r);
            coords.data()[(r * W + c) * 2 + 1] = static_cast<Scalar>(c);
        }
    return window_partition(cyclic_shift(coords, shift), M);
}

}  // namespace

// ---- window_partition and window_reverse ----------------------------------------------------------------

TEST_CASE("window_partition: a 4x4 grid into 2x2 windows, worked out by hand") {
    // The grid (B = 1, C = 1), value = 4 * row + column:
    //      0  1 |  2  3
    //      4  5 |  6  7
    //     ------+------
    //      8  9 | 10 11
    //     12 13 | 14 15
    // Windows in row-major order of the 2x2 window grid (top-left, top-right, bottom-left, bottom-right),
    // each window's tokens row-major: top row then bottom row.
    Tensor x = iota({1, 4, 4, 1});
    check_values(window_partition(x, 2), {4, 4, 1},
                 {0, 1, 4, 5,  2, 3, 6, 7,  8, 9, 12, 13,  10, 11, 14, 15}, 0);
    // M = 4 covers the whole map: one window holding the grid row-major, i.e. the flattened grid.
    check_values(window_partition(x, 4), {1, 16, 1}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, 0);
    // M = 1: every token is its own window, in the grid's row-major order.
    CHECK(window_partition(x, 1).shape() == Shape{16, 1, 1});
    CHECK(window_partition(x, 1).to_vector() == x.to_vector());
}

TEST_CASE("window_partition: every element lands where the index arithmetic says") {
    // out[(b * H/M + wy) * W/M + wx][ty * M + tx][c] = x[b][wy * M + ty][wx * M + tx][c]
    const int64_t B = 2, H = 6, W = 9, C = 2, M = 3;
    Tensor x = iota({B, H, W, C});
    Tensor out = window_partition(x, M);
    REQUIRE(out.shape() == Shape{B * (H / M) * (W / M), M * M, C});
    int64_t wrong = 0;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t r = 0; r < H; ++r)
            for (int64_t col = 0; col < W; ++col)
                for (int64_t c = 0; c < C; ++c) {
                    const int64_t w = (b * (H / M) + r / M) * (W / M) + col / M;
                    const int64_t t = (r % M) * M + col % M;
                    if (out.data()[(w * M * M + t) * C + c] != x.data()[((b * H + r) * W + col) * C + c]) ++wrong;
                }
    CHECK(wrong == 0);
}

TEST_CASE("window_partition then window_reverse is the identity, and the other way round") {
    struct Case { Shape shape; int64_t M; };
    for (const Case& k : {Case{{1, 4, 4, 1}, 2}, Case{{2, 6, 9, 3}, 3}, Case{{3, 8, 8, 2}, 4},
                          Case{{2, 4, 8, 5}, 4}, Case{{1, 7, 7, 4}, 7}, Case{{2, 3, 5, 2}, 1}}) {
        CAPTURE(to_string(k.shape));
        CAPTURE(k.M);
        Tensor x = iota(k.shape);
        const int64_t H = k.shape[1], W = k.shape[2];
        Tensor windows = window_partition(x, k.M);
        CHECK(windows.shape() == Shape{k.shape[0] * (H / k.M) * (W / k.M), k.M * k.M, k.shape[3]});
        CHECK(same_values(window_reverse(windows, k.M, H, W), x));
        Tensor w = iota(windows.shape());
        CHECK(same_values(window_partition(window_reverse(w, k.M, H, W), k.M), w));
    }
}

TEST_CASE("window_partition and window_reverse: gradient checks") {
    Tensor a = random_tensor({1, 4, 4, 1}, 1);
    check_gradients([](const std::vector<Tensor>& in) { return window_partition(in[0], 2); }, {a});
    Tensor b = random_tensor({2, 6, 4, 3}, 2);
    check_gradients([](const std::vector<Tensor>& in) { return window_partition(in[0], 2); }, {b});
    Tensor c = random_tensor({4, 4, 3}, 3);  // B = 1, a 4x4 grid of 2x2 windows: nW = 4
    check_gradients([](const std::vector<Tensor>& in) { return window_reverse(in[0], 2, 4, 4); }, {c});
    Tensor d = random_tensor({2 * 2 * 3, 4, 2}, 4);  // B = 2, a 4x6 grid: nW = 2 * 3
    check_gradients([](const std::vector<Tensor>& in) { return window_reverse(in[0], 2, 4, 6); }, {d});
}

TEST_CASE("window_partition and window_reverse: bad shapes name the shape and M") {
    const std::string not_divisible = thrown_message([] { window_partition(Tensor::zeros({2, 5, 4, 3}), 2); });
    CHECK(contains(not_divisible, "(2, 5, 4, 3)"));
    CHECK(contains(not_divisible, "M = 2"));
    CHECK(contains(thrown_message([] { window_partition(Tensor::zeros({2, 4, 6, 3}), 4); }), "(2, 4, 6, 3)"));
    CHECK(contains(thrown_message([] { window_partition(Tensor::zeros({4, 4, 3}), 2); }), "(4, 4, 3)"));
    CHECK(contains(thrown_message([] { window_partition(Tensor::zeros({1, 4, 4, 3}), 0); }), "M = 0"));
    // 5 windows of a 4x4 grid with M = 2 (nW = 4): not a whole batch.
    const std::string batch = thrown_message([] { window_reverse(Tensor::zeros({5, 4, 3}), 2, 4, 4); });
    CHECK(contains(batch, "(5, 4, 3)"));
    CHECK(contains(batch, "M = 2"));
    // windows of 9 tokens cannot be 2x2 windows.
    CHECK(contains(thrown_message([] { window_reverse(Tensor::zeros({4, 9, 3}), 2, 4, 4); }), "(4, 9, 3)"));
    const std::string grid = thrown_message([] { window_reverse(Tensor::zeros({4, 4, 3}), 2, 4, 5); });
    CHECK(contains(grid, "4 x 5"));
    CHECK(contains(grid, "(4, 4, 3)"));
}

// ---- cyclic_shift -----------------------------------------------------------------------------------------

TEST_CASE("cyclic_shift: a roll of the 2D grid, worked out by hand") {
    // The 4x4 grid of value 4 * row + column, shifted by 1: out[r][c] = x[(r + 1) mod 4][(c + 1) mod 4],
    // the first row and column move to the end:
    //      5  6  7  4
    //      9 10 11  8
    //     13 14 15 12
    //      1  2  3  0
    Tensor x = iota({1, 4, 4, 1});
    check_values(cyclic_shift(x, 1), {1, 4, 4, 1}, {5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0}, 0);
    // Rolling the flattened sequence of 16 tokens by -(1 * 4 + 1) = -5 instead is not the same: position
    // (0, 3) would read token 3 + 5 = 8, i.e. (2, 0), two rows down, where the grid roll reads (1, 0) = 4.
    Tensor flat = roll(reshape(x, {1, 16, 1}), {-5}, {1});
    CHECK(flat.data()[3] == 8);
    CHECK(cyclic_shift(x, 1).data()[3] == 4);
    CHECK_FALSE(same_values(reshape(flat, {1, 4, 4, 1}), cyclic_shift(x, 1)));
}

TEST_CASE("cyclic_shift then reverse_cyclic_shift is the identity; both agree with index arithmetic") {
    struct Case { Shape shape; int64_t shift; };
    for (const Case& k : {Case{{1, 4, 4, 1}, 1}, Case{{2, 8, 8, 3}, 2}, Case{{2, 6, 9, 2}, 4}, Case{{1, 7, 7, 2}, 3},
                          Case{{1, 4, 4, 1}, 0}}) {
        CAPTURE(to_string(k.shape));
        CAPTURE(k.shift);
        Tensor x = iota(k.shape);
        const int64_t B = k.shape[0], H = k.shape[1], W = k.shape[2], C = k.shape[3], s = k.shift;
        Tensor shifted = cyclic_shift(x, s);
        CHECK(same_values(reverse_cyclic_shift(shifted, s), x));
        CHECK(same_values(cyclic_shift(reverse_cyclic_shift(x, s), s), x));
        int64_t wrong = 0;  // out[b][r][c] = x[b][(r + s) mod H][(c + s) mod W]
        for (int64_t b = 0; b < B; ++b)
            for (int64_t r = 0; r < H; ++r)
                for (int64_t col = 0; col < W; ++col)
                    for (int64_t c = 0; c < C; ++c)
                        if (shifted.data()[((b * H + r) * W + col) * C + c] !=
                            x.data()[((b * H + (r + s) % H) * W + (col + s) % W) * C + c])
                            ++wrong;
        CHECK(wrong == 0);
    }
}

TEST_CASE("cyclic_shift and reverse_cyclic_shift: gradient checks and bad shapes") {
    Tensor a = random_tensor({1, 4, 4, 2}, 5);
    check_gradients([](const std::vector<Tensor>& in) { return cyclic_shift(in[0], 1); }, {a});
    Tensor b = random_tensor({2, 6, 4, 3}, 6);
    check_gradients([](const std::vector<Tensor>& in) { return cyclic_shift(in[0], 2); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return reverse_cyclic_shift(in[0], 3); }, {b});
    CHECK(contains(thrown_message([] { cyclic_shift(Tensor::zeros({4, 4, 3}), 1); }), "(4, 4, 3)"));
    CHECK(contains(thrown_message([] { reverse_cyclic_shift(Tensor::zeros({16, 3}), 1); }), "(16, 3)"));
}

// ---- relative_position_index and relative_position_bias -------------------------------------------------

TEST_CASE("window_token_order: one gather equals cyclic_shift then window_partition, values and gradients") {
    // H x W grid, window M, shift s: square and not, with and without a shift
    for (const auto& grid : {std::array<int64_t, 4>{8, 8, 4, 2}, {8, 8, 4, 0}, {4, 8, 2, 1}, {6, 6, 3, 1}}) {
        // (named one by one: clang < 16 cannot capture a structured binding, and CAPTURE below does)
        const int64_t H = grid[0], W = grid[1], M = grid[2], shift = grid[3];
        CAPTURE(H);
        CAPTURE(W);
        CAPTURE(M);
        CAPTURE(shift);
        const int64_t B = 2, C = 3, N = M * M, nW = H * W / N;
        const std::vector<int64_t> order = window_token_order(H, W, M, shift);
        Tensor x = random_tensor({B, H, W, C}, 71);
        const Tensor probe = random_tensor({B * nW, N, C}, 72, false);

        Tensor two_steps = window_partition(shift > 0 ? cyclic_shift(x, shift) : x, M);   // (B*nW, N, C)
        sum(two_steps * probe).backward();
        const Tensor grad_two_steps = x.grad().clone();
        x.zero_grad();
        Tensor one_gather = reshape(index_select(reshape(x, {B, H * W, C}), 1, order), {B * nW, N, C});
        sum(one_gather * probe).backward();
        check_close(one_gather, two_steps, 0);  // the same numbers moved to the same places: exact
        check_close(x.grad(), grad_two_steps, 0);

        // and the inverse order undoes it: window_reverse then reverse_cyclic_shift
        const Tensor back = index_select(reshape(one_gather, {B, nW * N, C}), 1, inverse_order(order));
        check_close(reshape(back, {B, H, W, C}), x, 0);
    }
    // by hand, H = W = 4, M = 2, no shift: window 0 holds grid tokens 0, 1, 4, 5; window 1 holds 2, 3, 6, 7
    const std::vector<int64_t> plain = window_token_order(4, 4, 2, 0);
    CHECK(std::vector<int64_t>(plain.begin(), plain.begin() + 8) == std::vector<int64_t>{0, 1, 4, 5, 2, 3, 6, 7});
    // shift 1: the window grid starts at token (1, 1) = 5
    CHECK(window_token_order(4, 4, 2, 1)[0] == 5);
}

TEST_CASE("inverse_order: undoes a permutation, refuses what is not one") {
    CHECK(inverse_order({2, 0, 1}) == std::vector<int64_t>{1, 2, 0});
    CHECK(contains(thrown_message([] { inverse_order({0, 2, 2}); }), "entry 2 = 2 is out of range or repeated"));
    CHECK(contains(thrown_message([] { inverse_order({0, 3, 1}); }), "not a permutation of 0 .. 2"));
}

TEST_CASE("relative_position_index: M = 2 worked out by hand") {
    // Tokens 0 = (0, 0), 1 = (0, 1), 2 = (1, 0), 3 = (1, 1); 2M - 1 = 3;
    // index = (dy + 1) * 3 + (dx + 1) with dy = yi - yj, dx = xi - xj.
    //   i = 0: j = 0 (0, 0) -> 4;  j = 1 (0,-1) -> 3;  j = 2 (-1, 0) -> 1;  j = 3 (-1,-1) -> 0
    //   i = 1: j = 0 (0, 1) -> 5;  j = 1 (0, 0) -> 4;  j = 2 (-1, 1) -> 2;  j = 3 (-1, 0) -> 1
    //   i = 2: j = 0 (1, 0) -> 7;  j = 1 (1,-1) -> 6;  j = 2 ( 0, 0) -> 4;  j = 3 ( 0,-1) -> 3
    //   i = 3: j = 0 (1, 1) -> 8;  j = 1 (1, 0) -> 7;  j = 2 ( 0, 1) -> 5;  j = 3 ( 0, 0) -> 4
    check_values(relative_position_index(2), {4, 4}, {4, 3, 1, 0,  5, 4, 2, 1,  7, 6, 4, 3,  8, 7, 5, 4}, 0);
    // M = 1: one token, one offset (0, 0), index 0 into a 1-row table.
    check_values(relative_position_index(1), {1, 1}, {0}, 0);
}

TEST_CASE("relative_position_index equals a brute-force four-loop computation") {
    for (int64_t M : {2, 3, 4, 7}) {
        CAPTURE(M);
        const int64_t N = M * M;
        Tensor index = relative_position_index(M);
        REQUIRE(index.shape() == Shape{N, N});
        int64_t wrong = 0, out_of_range = 0;
        for (int64_t yi = 0; yi < M; ++yi)
            for (int64_t xi = 0; xi < M; ++xi)
                for (int64_t yj = 0; yj < M; ++yj)
                    for (int64_t xj = 0; xj < M; ++xj) {
                        const int64_t expected = (yi - yj + M - 1) * (2 * M - 1) + (xi - xj + M - 1);
                        const Scalar got = index.data()[(yi * M + xi) * N + (yj * M + xj)];
                        if (got != static_cast<Scalar>(expected)) ++wrong;
                        if (got < 0 || got >= (2 * M - 1) * (2 * M - 1)) ++out_of_range;
                    }
        CHECK(wrong == 0);
        CHECK(out_of_range == 0);
        // The diagonal (offset (0, 0)) is the centre row of the table: (M - 1) * (2M - 1) + (M - 1).
        CHECK(index.data()[0] == (M - 1) * (2 * M - 1) + (M - 1));
    }
    CHECK(contains(thrown_message([] { relative_position_index(0); }), "M = 0"));
}

TEST_CASE("relative_position_bias: values by hand, and a repeated index accumulates its gradient") {
    // table (9, 2): table[r][h] = 10 r + h, so bias[h][i][j] = 10 * index[i][j] + h.
    std::vector<Scalar> values;
    for (int r = 0; r < 9; ++r)
        for (int h = 0; h < 2; ++h) values.push_back(10 * r + h);
    Tensor table = Tensor::from_vector(values, {9, 2});
    table.requires_grad_(true);
    Tensor bias = relative_position_bias(table, relative_position_index(2));
    check_values(bias, {2, 4, 4},
                 {40, 30, 10, 0,  50, 40, 20, 10,  70, 60, 40, 30,  80, 70, 50, 40,     // head 0
                  41, 31, 11, 1,  51, 41, 21, 11,  71, 61, 41, 31,  81, 71, 51, 41},    // head 1
                 0);
    // d sum(bias) / d table[r][h] = how many of the 16 pairs (i, j) have index r. From the M = 2 index:
    // offset (0, 0), row 4, is on the diagonal: 4 pairs; rows 1, 3, 5, 7 (one step): 2 pairs each;
    // rows 0, 2, 6, 8 (diagonal steps): 1 pair each. 4 + 4 * 2 + 4 * 1 = 16.
    sum(bias).backward();
    check_values(table.grad(), {9, 2}, {1, 1, 2, 2, 1, 1, 2, 2, 4, 4, 2, 2, 1, 1, 2, 2, 1, 1}, 0);
}

TEST_CASE("relative_position_bias: gradient checks of the table") {
    const Tensor index2 = relative_position_index(2), index3 = relative_position_index(3);
    Tensor one_head = random_tensor({9, 1}, 7);  // M = 2, nH = 1: (2M - 1)^2 = 9 rows
    check_gradients([index2](const std::vector<Tensor>& in) { return relative_position_bias(in[0], index2); },
                    {one_head});
    Tensor three_heads = random_tensor({25, 3}, 8);  // M = 3, nH = 3: 25 rows, the centre one read 9 times
    check_gradients([index3](const std::vector<Tensor>& in) { return relative_position_bias(in[0], index3); },
                    {three_heads});
}

TEST_CASE("relative_position_bias: bad shapes and bad indices name the shapes") {
    const Tensor index = relative_position_index(2);  // (4, 4): needs 9 rows
    const std::string rows = thrown_message([&] { relative_position_bias(Tensor::zeros({25, 3}), index); });
    CHECK(contains(rows, "(25, 3)"));
    CHECK(contains(rows, "(4, 4)"));
    const std::string square = thrown_message([] { relative_position_bias(Tensor::zeros({9, 3}), Tensor::zeros({4, 3})); });
    CHECK(contains(square, "(4, 3)"));
    CHECK(contains(square, "(9, 3)"));
    CHECK(contains(thrown_message([&] { relative_position_bias(Tensor::zeros({9}), index); }), "(9,)"));
    // 5 tokens is not M * M for any M.
    CHECK(contains(thrown_message([] { relative_position_bias(Tensor::zeros({9, 3}), Tensor::zeros({5, 5})); }),
                   "(5, 5)"));
    Tensor bad = index.clone();
    bad.data()[5] = 9;  // one past the last row
    const std::string range = thrown_message([&] { relative_position_bias(Tensor::zeros({9, 3}), bad); });
    CHECK(contains(range, "index value 9"));
    CHECK(contains(range, "(9, 3)"));
    bad.data()[5] = 2.5;
    CHECK(contains(thrown_message([&] { relative_position_bias(Tensor::zeros({9, 3}), bad); }), "whole number"));
}

// ---- shifted_window_mask ----------------------------------------------------------------------------------

TEST_CASE("shifted_window_mask: shift 0 is all zeros") {
    Tensor mask = shifted_window_mask(8, 8, 4, 0);
    REQUIRE(mask.shape() == Shape{4, 16, 16});
    for (Scalar v : mask.to_vector()) CHECK(v == 0);
}

TEST_CASE("shifted_window_mask: zero exactly for pairs from the same region, checked by brute force") {
    // Two tokens of one window of the shifted grid were neighbours in the original image (same region)
    // unless the rows or the columns wrapped around between them; then they are at least H - M + 1 apart.
    // So: same region  <=>  |original row difference| < M and |original column difference| < M.
    struct Case { int64_t H, W, M, shift; };
    for (const Case& k : {Case{8, 8, 4, 2}, Case{8, 12, 4, 1}, Case{6, 9, 3, 1}, Case{8, 8, 4, 3}}) {
        CAPTURE(k.H);
        CAPTURE(k.W);
        CAPTURE(k.M);
        CAPTURE(k.shift);
        const int64_t nW = (k.H / k.M) * (k.W / k.M), N = k.M * k.M;
        Tensor mask = shifted_window_mask(k.H, k.W, k.M, k.shift);
        REQUIRE(mask.shape() == Shape{nW, N, N});
        Tensor coords = original_coordinates(k.H, k.W, k.M, k.shift);  // (nW, N, 2)
        const Scalar* at = coords.data();
        int64_t wrong = 0;
        for (int64_t w = 0; w < nW; ++w)
            for (int64_t i = 0; i < N; ++i)
                for (int64_t j = 0; j < N; ++j) {
                    const Scalar* ci = at + (w * N + i) * 2;
                    const Scalar* cj = at + (w * N + j) * 2;
                    const bool same_region = std::abs(ci[0] - cj[0]) < k.M && std::abs(ci[1] - cj[1]) < k.M;
                    const Scalar expected = same_region ? 0 : -100;
                    if (mask.data()[(w * N + i) * N + j] != expected) ++wrong;
                }
        CHECK(wrong == 0);
    }
}

TEST_CASE("shifted_window_mask: H = W = 8, M = 4, shift 2, zero entries counted by hand") {
    // Region labels of the shifted 8x8 grid (bands [0, 4), [4, 6), [6, 8) on each axis):
    //     0 0 0 0 | 1 1 2 2
    //     0 0 0 0 | 1 1 2 2
    //     0 0 0 0 | 1 1 2 2
    //     0 0 0 0 | 1 1 2 2
    //     --------+--------
    //     3 3 3 3 | 4 4 5 5
    //     3 3 3 3 | 4 4 5 5
    //     6 6 6 6 | 7 7 8 8
    //     6 6 6 6 | 7 7 8 8
    // window 0 (top-left):     one region of 16 tokens         16 * 16          = 256 zero pairs
    // window 1 (top-right):    regions 1, 2 of 8 tokens each   8 * 8 + 8 * 8    = 128
    // window 2 (bottom-left):  regions 3, 6 of 8 tokens each                    = 128
    // window 3 (bottom-right): regions 4, 5, 7, 8 of 4 each    4 * (4 * 4)      =  64
    Tensor mask = shifted_window_mask(8, 8, 4, 2);
    const std::vector<int64_t> expected_zeros = {256, 128, 128, 64};
    for (int64_t w = 0; w < 4; ++w) {
        int64_t zeros = 0, minus_100 = 0;
        for (int64_t k = 0; k < 256; ++k) {
            const Scalar v = mask.data()[w * 256 + k];
            zeros += v == 0;
            minus_100 += v == -100;
        }
        CAPTURE(w);
        CHECK(zeros == expected_zeros[w]);
        CHECK(zeros + minus_100 == 256);  // nothing but 0 and -100
    }
    // Spot checks in window 3 (rows 4..7, columns 4..7): token 0 = (4, 4) is region 4, token 2 = (4, 6)
    // region 5, token 8 = (6, 4) region 7, token 5 = (5, 5) region 4.
    const Scalar* w3 = mask.data() + 3 * 256;
    CHECK(w3[0 * 16 + 5] == 0);
    CHECK(w3[0 * 16 + 2] == -100);
    CHECK(w3[0 * 16 + 8] == -100);
    CHECK(w3[2 * 16 + 8] == -100);
}

TEST_CASE("shifted_window_mask: after softmax, tokens from different regions get no attention (the key test)") {
    // Attention scores for B = 2 images, nW = 4 windows, nH = 3 heads, N = 16 tokens, as a Swin block
    // holds them: (B, nW, nH, N, N). The mask (nW, N, N) is read as (nW, 1, N, N) so it broadcasts over
    // the batch and the heads, as timm's mask.unsqueeze(1).unsqueeze(0) does.
    const int64_t B = 2, nW = 4, nH = 3, N = 16;
    Tensor mask = shifted_window_mask(8, 8, 4, 2);                                 // (nW, N, N)
    Tensor scores = random_tensor({B, nW, nH, N, N}, 9, false, -5, 5);
    Tensor weights = softmax(scores + reshape(mask, {nW, 1, N, N}), -1);          // (B, nW, nH, N, N)
    // The same with -inf instead of -100: masked_fill puts -inf wherever the mask is not 0.
    Tensor inf_mask = masked_fill(mask, mask, -std::numeric_limits<Scalar>::infinity());
    Tensor inf_weights = softmax(scores + reshape(inf_mask, {nW, 1, N, N}), -1);
    double largest_across = 0;      // the largest weight between different regions, with -100
    int64_t nonzero_with_inf = 0;   // weights between different regions that are not exactly 0, with -inf
    double worst_row_error = 0;     // against a softmax over the query's own region only
    for (int64_t b = 0; b < B; ++b)
        for (int64_t w = 0; w < nW; ++w)
            for (int64_t h = 0; h < nH; ++h)
                for (int64_t i = 0; i < N; ++i) {
                    const int64_t row = (((b * nW + w) * nH + h) * N + i) * N;
                    const Scalar* m = mask.data() + (w * N + i) * N;
                    // The softmax of the scores over the keys in i's own region, written out.
                    double total = 0;
                    for (int64_t j = 0; j < N; ++j)
                        if (m[j] == 0) total += std::exp(scores.data()[row + j]);
                    for (int64_t j = 0; j < N; ++j) {
                        if (m[j] == 0) {
                            const double own = std::exp(scores.data()[row + j]) / total;
                            worst_row_error = std::max(worst_row_error, std::abs(weights.data()[row + j] - own));
                            worst_row_error = std::max(worst_row_error, std::abs(inf_weights.data()[row + j] - own));
                        } else {
                            largest_across = std::max(largest_across, double(weights.data()[row + j]));
                            nonzero_with_inf += inf_weights.data()[row + j] != 0;
                        }
                    }
                }
    CHECK(largest_across < 1e-30);  // at most e^(-100 + 10) ~ 8e-40: scores differ by at most 10
    CHECK(largest_across > 0);      // but not exactly 0: -100 is a large penalty, not -inf
    CHECK(nonzero_with_inf == 0);
    // Inside its region each query's attention is the plain softmax over that region's keys.
    CHECK(worst_row_error < 1e-12);
}

TEST_CASE("shifted_window_mask: bad arguments name the grid, M and the shift") {
    const std::string grid = thrown_message([] { shifted_window_mask(8, 6, 4, 2); });
    CHECK(contains(grid, "8 x 6"));
    CHECK(contains(grid, "M = 4"));
    const std::string shift = thrown_message([] { shifted_window_mask(8, 8, 4, 4); });
    CHECK(contains(shift, "shift 4"));
    CHECK(contains(shift, "M = 4"));
    CHECK(contains(thrown_message([] { shifted_window_mask(8, 8, 4, -1); }), "shift -1"));
}

// ---- patch_merging_gather ---------------------------------------------------------------------------------

TEST_CASE("patch_merging_gather: a 2x2 grid worked out by hand") {
    // B = 1, C = 1, tokens row-major: (0,0) = 1, (0,1) = 2, (1,0) = 3, (1,1) = 4.
    // x0 = (0,0) = 1, x1 = (1,0) = 3 (next row), x2 = (0,1) = 2 (next column), x3 = (1,1) = 4.
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {1, 4, 1});
    check_values(patch_merging_gather(x, 2, 2), {1, 1, 4}, {1, 3, 2, 4}, 0);
    // C = 2: tokens (1, 2), (3, 4), (5, 6), (7, 8) -> [x0, x1, x2, x3] = [(1, 2), (5, 6), (3, 4), (7, 8)].
    Tensor y = Tensor::from_vector({1, 2, 3, 4, 5, 6, 7, 8}, {1, 4, 2});
    check_values(patch_merging_gather(y, 2, 2), {1, 1, 8}, {1, 2, 5, 6, 3, 4, 7, 8}, 0);
    // A 2x4 grid, value = 4 * row + column: blocks {0, 1, 4, 5} and {2, 3, 6, 7}, each as [x0, x1, x2, x3].
    check_values(patch_merging_gather(iota({1, 8, 1}), 2, 4), {1, 2, 4}, {0, 4, 1, 5,  2, 6, 3, 7}, 0);
}

TEST_CASE("patch_merging_gather equals timm's four strided slices and concat, values and gradients") {
    // timm: x.view(B, H, W, C); x0 = x[:, 0::2, 0::2]; x1 = x[:, 1::2, 0::2]; x2 = x[:, 0::2, 1::2];
    // x3 = x[:, 1::2, 1::2]; cat([x0, x1, x2, x3], -1).view(B, -1, 4C)
    const auto by_slices = [](int64_t H, int64_t W) {
        return [H, W](const Tensor& x) {
            const int64_t B = x.size(0), C = x.size(2);
            Tensor grid = reshape(x, {B, H, W, C});
            const auto take = [&](int64_t row0, int64_t col0) {
                return slice(slice(grid, 1, row0, H, 2), 2, col0, W, 2);  // (B, H/2, W/2, C)
            };
            Tensor merged = concat({take(0, 0), take(1, 0), take(0, 1), take(1, 1)}, -1);  // (B, H/2, W/2, 4C)
            return reshape(merged, {B, (H / 2) * (W / 2), 4 * C});
        };
    };
    struct Case { int64_t B, H, W, C; };
    for (const Case& k : {Case{1, 2, 2, 1}, Case{2, 4, 6, 3}, Case{1, 8, 4, 2}}) {
        CAPTURE(k.H);
        CAPTURE(k.W);
        const Tensor x = random_tensor({k.B, k.H * k.W, k.C}, 10 + k.H, false);
        const Tensor probe = random_tensor({k.B, (k.H / 2) * (k.W / 2), 4 * k.C}, 20 + k.H, false);
        const auto fast = [&](const Tensor& v) { return patch_merging_gather(v, k.H, k.W); };
        check_close(fast(x), by_slices(k.H, k.W)(x), 0);
        check_close(grad_of(fast, x, probe), grad_of(by_slices(k.H, k.W), x, probe), 0);
    }
}

TEST_CASE("patch_merging_gather: gradient checks") {
    Tensor a = random_tensor({1, 4, 2}, 11);
    check_gradients([](const std::vector<Tensor>& in) { return patch_merging_gather(in[0], 2, 2); }, {a});
    Tensor b = random_tensor({2, 4 * 6, 3}, 12);
    check_gradients([](const std::vector<Tensor>& in) { return patch_merging_gather(in[0], 4, 6); }, {b});
}

TEST_CASE("patch_merging_gather: bad shapes name the shape and the grid") {
    const std::string odd = thrown_message([] { patch_merging_gather(Tensor::zeros({2, 15, 3}), 3, 5); });
    CHECK(contains(odd, "(2, 15, 3)"));
    CHECK(contains(odd, "3 x 5"));
    const std::string count = thrown_message([] { patch_merging_gather(Tensor::zeros({2, 16, 3}), 4, 6); });
    CHECK(contains(count, "(2, 16, 3)"));
    CHECK(contains(count, "4 x 6"));
    CHECK(contains(thrown_message([] { patch_merging_gather(Tensor::zeros({2, 4, 4, 3}), 4, 4); }), "(2, 4, 4, 3)"));
}
