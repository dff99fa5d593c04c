// Movement ops (core/ops/movement.cpp): reshape, permute, transpose, slice, concat, stack, index_select,
// gather, roll, shifted_copies, unfold, unfold_channels_last. For each: values by hand, gradient checks at
// two or more shapes (negative dims too), bad inputs that must name the shapes; and the threaded copy paths
// against plain index arithmetic.
#include <functional>
#include <string>
#include <vector>

#include "nn/embedding.h"
#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// 0, 1, ..., numel-1 in the given shape.
Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }

// The same numbers, exactly.
bool same_values(const Tensor& a, const Tensor& b) { return a.shape() == b.shape() && a.to_vector() == b.to_vector(); }

}  // namespace

// ---- reshape --------------------------------------------------------------------------------------------

TEST_CASE("reshape: same numbers, new shape, shared storage, -1 inferred") {
    Tensor x = iota({2, 3});
    Tensor y = reshape(x, {3, 2});
    check_values(y, {3, 2}, {0, 1, 2, 3, 4, 5});  // row-major order does not change
    CHECK(y.data() == x.data());                   // no copy
    Tensor flat = reshape(iota({2, 3, 4}), {-1, 4});             // 24 / 4 = 6
    CHECK(flat.shape() == Shape{6, 4});
    CHECK(flat.to_vector() == iota({24}).to_vector());
    CHECK(reshape(iota({2, 3, 4}), {2, -1, 3}).shape() == Shape{2, 4, 3});  // 24 / (2 * 3) = 4
    check_values(reshape(Tensor::from_vector({5}, {1, 1}), {}), {}, {5});  // one element fits in ()
}

TEST_CASE("reshape: gradient checks") {
    Tensor a = random_tensor({2, 3}, 1);
    check_gradients([](const std::vector<Tensor>& in) { return reshape(in[0], {3, 2}); }, {a});
    Tensor b = random_tensor({2, 3, 4}, 2);
    check_gradients([](const std::vector<Tensor>& in) { return reshape(in[0], {4, -1}); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return reshape(in[0], {24}); }, {b});
}

TEST_CASE("reshape: bad shapes name both shapes and both element counts") {
    Tensor x = Tensor::zeros({2, 3});
    CHECK(thrown_message([&] { reshape(x, {4, 2}); }) ==
          "reshape: cannot reshape (2, 3) (6 elements) into (4, 2) (8 elements)");
    const std::string not_multiple = thrown_message([&] { reshape(x, {4, -1}); });
    CHECK(contains(not_multiple, "(2, 3)"));
    CHECK(contains(not_multiple, "(4, -1)"));
    CHECK(contains(thrown_message([&] { reshape(x, {-1, -1}); }), "only one size may be -1"));
    CHECK(contains(thrown_message([&] { reshape(x, {-2, -3}); }), "invalid size -2"));
    CHECK(thrown_message([&] { reshape(x, {}); }) ==
          "reshape: cannot reshape (2, 3) (6 elements) into () (1 elements)");
}

// ---- permute and transpose ------------------------------------------------------------------------------

TEST_CASE("permute and transpose: values worked out by hand") {
    // x (2, 3, 4) = 0 .. 23, x[b, c, a] = 12b + 4c + a; permute (2, 0, 1) gives out[a, b, c] = x[b, c, a].
    check_values(permute(iota({2, 3, 4}), {2, 0, 1}), {4, 2, 3},
                 {0, 4, 8, 12, 16, 20,      // a = 0: b = 0 (c = 0, 1, 2), then b = 1
                  1, 5, 9, 13, 17, 21,      // a = 1
                  2, 6, 10, 14, 18, 22,     // a = 2
                  3, 7, 11, 15, 19, 23});   // a = 3
    // Negative dims count from the end: (-1, 0, -2) is (2, 0, 1).
    CHECK(same_values(permute(iota({2, 3, 4}), {-1, 0, -2}), permute(iota({2, 3, 4}), {2, 0, 1})));
    // [[0, 1, 2], [3, 4, 5]]^T = [[0, 3], [1, 4], [2, 5]]
    check_values(transpose(iota({2, 3}), 0, 1), {3, 2}, {0, 3, 1, 4, 2, 5});
    // x (2, 2, 3): x[b, i, j] = 6b + 3i + j; out[b, j, i] = x[b, i, j]
    check_values(transpose(iota({2, 2, 3}), -2, -1), {2, 3, 2}, {0, 3, 1, 4, 2, 5, 6, 9, 7, 10, 8, 11});
    // A scalar permutes to itself.
    check_values(permute(Tensor::scalar(7), {}), {}, {7});
}

TEST_CASE("permute and transpose: gradient checks") {
    Tensor a = random_tensor({3, 4}, 3);
    check_gradients([](const std::vector<Tensor>& in) { return permute(in[0], {1, 0}); }, {a});
    Tensor b = random_tensor({2, 3, 4}, 4);
    check_gradients([](const std::vector<Tensor>& in) { return permute(in[0], {2, 0, 1}); }, {b});
    Tensor c = random_tensor({2, 3, 4, 5}, 5);
    check_gradients([](const std::vector<Tensor>& in) { return permute(in[0], {-1, 1, 0, -2}); }, {c});
    check_gradients([](const std::vector<Tensor>& in) { return permute(in[0], {0, 1, 3, 2}); }, {c});
    check_gradients([](const std::vector<Tensor>& in) { return transpose(in[0], 0, -1); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return transpose(in[0], -2, -1); }, {c});
}

TEST_CASE("permute: bad dims name the dims and the shape") {
    Tensor x = Tensor::zeros({2, 3});
    for (const std::vector<int64_t>& dims : {std::vector<int64_t>{0, 0}, std::vector<int64_t>{0},
                                             std::vector<int64_t>{0, 2}, std::vector<int64_t>{1, -1}}) {
        const std::string msg = thrown_message([&] { permute(x, dims); });
        CAPTURE(msg);
        CHECK(contains(msg, "permute: dims " + to_string(dims)));
        CHECK(contains(msg, "(2, 3)"));
    }
    const std::string msg = thrown_message([&] { transpose(x, 0, 2); });
    CHECK(contains(msg, "transpose: dim 2"));
    CHECK(contains(msg, "(2, 3)"));
}

TEST_CASE("permute of an attention-sized tensor (threaded path) equals plain index arithmetic, both ways") {
    // qkv (B, T, 3, H, D) -> (3, B, H, T, D): 2 * 65 * 3 * 4 * 32 = 49920 elements, above the threshold.
    const int64_t B = 2, T = 65, H = 4, D = 32;
    Tensor x = random_tensor({B, T, 3, H, D}, 6);
    Tensor out = permute(x, {2, 0, 3, 1, 4});
    REQUIRE(out.shape() == Shape{3, B, H, T, D});
    Tensor dout = random_tensor(out.shape(), 7, false);
    out.backward(dout);
    bool forward_ok = true, backward_ok = true;
    for (int64_t s = 0; s < 3; ++s)
        for (int64_t b = 0; b < B; ++b)
            for (int64_t h = 0; h < H; ++h)
                for (int64_t t = 0; t < T; ++t)
                    for (int64_t d = 0; d < D; ++d) {
                        const int64_t o = (((s * B + b) * H + h) * T + t) * D + d;    // out[s, b, h, t, d]
                        const int64_t i = (((b * T + t) * 3 + s) * H + h) * D + d;    // x[b, t, s, h, d]
                        forward_ok = forward_ok && out.data()[o] == x.data()[i];
                        backward_ok = backward_ok && x.grad().data()[i] == dout.data()[o];
                    }
    CHECK(forward_ok);
    CHECK(backward_ok);
    // The last dim moving (a transpose of the last two dims) takes the element-by-element path.
    Tensor y = random_tensor({8, 64, 80}, 8, false);
    Tensor yt = transpose(y, -1, -2);
    bool transpose_ok = true;
    for (int64_t b = 0; b < 8; ++b)
        for (int64_t i = 0; i < 64; ++i)
            for (int64_t j = 0; j < 80; ++j)
                transpose_ok = transpose_ok && yt.data()[(b * 80 + j) * 64 + i] == y.data()[(b * 64 + i) * 80 + j];
    CHECK(transpose_ok);
    CHECK(same_values(transpose(yt, 1, 2), y));
}

// ---- slice ----------------------------------------------------------------------------------------------

TEST_CASE("slice: values worked out by hand, Python's clamping") {
    Tensor x = iota({10});
    check_values(slice(x, 0, 1, 8, 3), {3}, {1, 4, 7});       // 1, 1+3, 1+6; 10 >= 8
    check_values(slice(x, 0, -3, 100), {3}, {7, 8, 9});       // -3 -> 7; 100 clamps to 10
    check_values(slice(x, -1, -100, 2), {2}, {0, 1});         // -100 + 10 < 0 clamps to 0
    check_values(slice(x, 0, 5, 2), {0}, {});                 // end <= start: empty
    check_values(slice(x, 0, 0, 10, 4), {3}, {0, 4, 8});      // ceil(10 / 4) = 3
    // x (3, 4) = [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]
    check_values(slice(iota({3, 4}), 1, 1, 3), {3, 2}, {1, 2, 5, 6, 9, 10});  // columns 1, 2
    check_values(slice(iota({3, 4}), -2, -2, 3), {2, 4}, {4, 5, 6, 7, 8, 9, 10, 11});  // rows 1, 2
}

TEST_CASE("slice: the backward writes into zeros, the skipped elements get nothing") {
    Tensor x = random_tensor({5}, 9);
    slice(x, 0, 1, 4, 2).backward(Tensor::from_vector({10, 20}, {2}));  // out = (x[1], x[3])
    check_values(x.grad(), {5}, {0, 10, 0, 20, 0});
}

TEST_CASE("slice: gradient checks") {
    Tensor a = random_tensor({3, 4}, 10);
    check_gradients([](const std::vector<Tensor>& in) { return slice(in[0], 1, 1, 3); }, {a});
    check_gradients([](const std::vector<Tensor>& in) { return slice(in[0], 0, -2, 3); }, {a});
    Tensor b = random_tensor({2, 5, 3}, 11);
    check_gradients([](const std::vector<Tensor>& in) { return slice(in[0], -2, 0, 5, 2); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return slice(in[0], -1, -2, 100); }, {b});
}

TEST_CASE("slice: bad step or dim names the shape") {
    Tensor x = Tensor::zeros({3, 4});
    const std::string step = thrown_message([&] { slice(x, 1, 0, 2, 0); });
    CHECK(contains(step, "step 0"));
    CHECK(contains(step, "(3, 4)"));
    CHECK(contains(thrown_message([&] { slice(x, 1, 0, 2, -1); }), "step -1"));
    const std::string dim = thrown_message([&] { slice(x, -3, 0, 2); });
    CHECK(contains(dim, "dim -3"));
    CHECK(contains(dim, "(3, 4)"));
}

// ---- concat and stack -----------------------------------------------------------------------------------

TEST_CASE("concat and stack: values worked out by hand") {
    Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2});  // [[1, 2], [3, 4]]
    Tensor b = Tensor::from_vector({5, 6}, {2, 1});        // [[5], [6]]
    Tensor c = Tensor::from_vector({7, 8}, {1, 2});        // [[7, 8]]
    check_values(concat({a, b}, 1), {2, 3}, {1, 2, 5, 3, 4, 6});      // each row of a, then b's
    check_values(concat({c, a}, -2), {3, 2}, {7, 8, 1, 2, 3, 4});     // c's row, then a's rows
    check_values(concat({a}, 0), {2, 2}, {1, 2, 3, 4});

    Tensor p = Tensor::from_vector({1, 2}, {2}), q = Tensor::from_vector({3, 4}, {2});
    check_values(stack({p, q}, 0), {2, 2}, {1, 2, 3, 4});             // [p, q]
    check_values(stack({p, q}, 1), {2, 2}, {1, 3, 2, 4});             // [[p0, q0], [p1, q1]]
    check_values(stack({p, q}, -1), {2, 2}, {1, 3, 2, 4});
    // Two (2, 2) along dim 2 (= their rank: a new last dim): out[i][j] = (a[i][j], d[i][j])
    Tensor d = Tensor::from_vector({5, 6, 7, 8}, {2, 2});
    check_values(stack({a, d}, 2), {2, 2, 2}, {1, 5, 2, 6, 3, 7, 4, 8});
}

TEST_CASE("concat: the backward splits dout; only inputs that require grad get a gradient") {
    Tensor a = random_tensor({2, 2}, 12);
    Tensor b = random_tensor({2, 1}, 13, false);
    // out (2, 3) = [[a00, a01, b0], [a10, a11, b1]]; dout = [[1, 2, 3], [4, 5, 6]]
    concat({a, b}, 1).backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}));
    check_values(a.grad(), {2, 2}, {1, 2, 4, 5});
    CHECK_FALSE(b.grad().defined());
}

TEST_CASE("concat and stack: gradient checks") {
    Tensor a = random_tensor({2, 3}, 14), b = random_tensor({2, 1}, 15), c = random_tensor({2, 2}, 16);
    check_gradients([](const std::vector<Tensor>& in) { return concat(in, -1); }, {a, b, c});
    Tensor d = random_tensor({1, 3, 2}, 17), e = random_tensor({2, 3, 2}, 18);
    check_gradients([](const std::vector<Tensor>& in) { return concat(in, 0); }, {d, e});
    Tensor f = random_tensor({2, 3}, 19), g = random_tensor({2, 3}, 20);
    for (int64_t dim : {0, 1, 2, -1, -3}) {
        CAPTURE(dim);
        check_gradients([dim](const std::vector<Tensor>& in) { return stack(in, dim); }, {f, g});
    }
    // Only one of them requires grad: the check runs on that one.
    check_gradients([](const std::vector<Tensor>& in) { return stack(in, 1); }, {f, random_tensor({2, 3}, 21, false)});
}

TEST_CASE("concat and stack: mismatched shapes are named") {
    Tensor a = Tensor::zeros({2, 3}), b = Tensor::zeros({3, 3}), c = Tensor::zeros({2, 3, 1});
    const std::string along = thrown_message([&] { concat({a, b}, 1); });
    CAPTURE(along);
    CHECK(contains(along, "(2, 3)"));
    CHECK(contains(along, "(3, 3)"));
    CHECK(contains(along, "dim 1"));
    CHECK(concat({a, b}, 0).shape() == Shape{5, 3});  // along dim 0 they fit
    const std::string rank = thrown_message([&] { concat({a, c}, 0); });
    CHECK(contains(rank, "(2, 3)"));
    CHECK(contains(rank, "(2, 3, 1)"));
    const std::string stacked = thrown_message([&] { stack({a, a, b}, 0); });
    CAPTURE(stacked);
    CHECK(contains(stacked, "(2, 3)"));
    CHECK(contains(stacked, "tensor 2 has shape (3, 3)"));
    CHECK(contains(thrown_message([&] { stack({a}, 3); }), "(2, 3)"));
    CHECK(contains(thrown_message([&] { concat({}, 0); }), "no tensors"));
}

// ---- index_select and gather ----------------------------------------------------------------------------

TEST_CASE("index_select: values by hand; repeated indices add in the backward") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 2});  // [[1, 2], [3, 4], [5, 6]]
    x.requires_grad_();
    Tensor out = index_select(x, 0, {2, 0, 2});
    check_values(out, {3, 2}, {5, 6, 1, 2, 5, 6});              // rows 2, 0, 2
    out.backward(Tensor::ones({3, 2}));
    check_values(x.grad(), {3, 2}, {1, 1, 0, 0, 2, 2});         // row 0 once, row 1 never, row 2 twice
    // [[0, 1, 2], [3, 4, 5]], columns 2, 2, 0
    check_values(index_select(iota({2, 3}), -1, {2, 2, 0}), {2, 3}, {2, 2, 0, 5, 5, 3});
}

TEST_CASE("index_select: gradient checks with repeats") {
    Tensor a = random_tensor({4, 3}, 22);
    check_gradients([](const std::vector<Tensor>& in) { return index_select(in[0], 0, {3, 1, 3, 0}); }, {a});
    Tensor b = random_tensor({2, 3, 4}, 23);
    check_gradients([](const std::vector<Tensor>& in) { return index_select(in[0], -1, {0, 0, 2}); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return index_select(in[0], 1, {2, 1, 2, 2, 0}); }, {b});
}

TEST_CASE("index_select: an index out of range names the index, the size and the shape") {
    Tensor x = Tensor::zeros({3, 2});
    const std::string msg = thrown_message([&] { index_select(x, 0, {0, 3}); });
    CAPTURE(msg);
    CHECK(contains(msg, "index 3"));
    CHECK(contains(msg, "size 3"));
    CHECK(contains(msg, "(3, 2)"));
    CHECK(contains(thrown_message([&] { index_select(x, 1, {-1}); }), "index -1"));
}

TEST_CASE("gather: values worked out by hand") {
    // torch.gather's own example: x = [[1, 2], [3, 4]], index = [[0, 0], [1, 0]], dim 1
    //   out[a][b] = x[a][index[a][b]] = [[x00, x00], [x11, x10]] = [[1, 1], [4, 3]]
    Tensor x = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    x.requires_grad_();
    Tensor out = gather(x, 1, Tensor::from_vector({0, 0, 1, 0}, {2, 2}));
    check_values(out, {2, 2}, {1, 1, 4, 3});
    out.backward(Tensor::ones({2, 2}));
    check_values(x.grad(), {2, 2}, {2, 0, 1, 1});  // x00 read twice, x01 never
    // dim 0: x (3, 2) = [[0, 1], [2, 3], [4, 5]], index [[2, 0], [1, 2]]
    //   out[a][b] = x[index[a][b]][b] = [[x20, x01], [x10, x21]] = [[4, 1], [2, 5]]
    check_values(gather(iota({3, 2}), 0, Tensor::from_vector({2, 0, 1, 2}, {2, 2})), {2, 2}, {4, 1, 2, 5});
    // An index smaller than x in the other dims reads only the corner it covers: x (3, 4), index (2, 1)
    //   out = [[x[0][3]], [x[1][1]]] = [[3], [5]]
    check_values(gather(iota({3, 4}), -1, Tensor::from_vector({3, 1}, {2, 1})), {2, 1}, {3, 5});
}

TEST_CASE("gather: gradient checks with repeats") {
    Tensor a = random_tensor({3, 4}, 24);
    const Tensor index_a = Tensor::from_vector({3, 3, 0, 2, 1, 0}, {3, 2});
    check_gradients([&](const std::vector<Tensor>& in) { return gather(in[0], 1, index_a); }, {a});
    Tensor b = random_tensor({2, 3, 4}, 25);
    // index (3, 2, 2) along dim 0: larger than x in the gathered dim, smaller in the others
    const Tensor index_b = Tensor::from_vector({1, 0, 0, 1, 1, 1, 0, 0, 0, 1, 1, 0}, {3, 2, 2});
    check_gradients([&](const std::vector<Tensor>& in) { return gather(in[0], 0, index_b); }, {b});
    const Tensor index_c = Tensor::from_vector({0, 3, 3, 1, 2, 2, 0, 1, 3, 3, 0, 0, 1, 2, 3,
                                                3, 2, 1, 0, 0, 1, 1, 2, 2, 3, 0, 1, 2, 3, 0},
                                               {2, 3, 5});
    check_gradients([&](const std::vector<Tensor>& in) { return gather(in[0], -1, index_c); }, {b});
}

TEST_CASE("gather: bad index shapes and values name the shapes") {
    Tensor x = Tensor::zeros({2, 3});
    const std::string rank = thrown_message([&] { gather(x, 1, Tensor::zeros({2})); });
    CHECK(contains(rank, "(2,)"));
    CHECK(contains(rank, "(2, 3)"));
    const std::string larger = thrown_message([&] { gather(x, 1, Tensor::zeros({3, 1})); });
    CAPTURE(larger);
    CHECK(contains(larger, "(3, 1)"));
    CHECK(contains(larger, "(2, 3)"));
    const std::string value = thrown_message([&] { gather(x, 1, Tensor::from_vector({0, 3}, {2, 1})); });
    CAPTURE(value);
    CHECK(contains(value, "index value 3"));
    CHECK(contains(value, "size 3"));
    CHECK(contains(value, "(2, 3)"));
    CHECK(contains(thrown_message([&] { gather(x, 0, Tensor::from_vector({0.5}, {1, 1})); }), "0.5"));
    CHECK(contains(thrown_message([&] { gather(x, 0, Tensor::from_vector({-1}, {1, 1})); }), "-1"));
}

// ---- roll -----------------------------------------------------------------------------------------------

TEST_CASE("roll: values worked out by hand") {
    Tensor x = iota({5});                                       // 0 1 2 3 4
    check_values(roll(x, {2}, {0}), {5}, {3, 4, 0, 1, 2});      // element i moves to i + 2
    check_values(roll(x, {-1}, {0}), {5}, {1, 2, 3, 4, 0});     // element i moves to i - 1
    check_values(roll(x, {7}, {0}), {5}, {3, 4, 0, 1, 2});      // 7 mod 5 = 2
    check_values(roll(x, {-8}, {-1}), {5}, {3, 4, 0, 1, 2});    // -8 mod 5 = 2
    // x (3, 2) = [[0, 1], [2, 3], [4, 5]], rows down by one: [[4, 5], [0, 1], [2, 3]]
    check_values(roll(iota({3, 2}), {1}, {0}), {3, 2}, {4, 5, 0, 1, 2, 3});
}

TEST_CASE("roll: Swin's cyclic shift on a 4x4 grid, and rolling back is the identity") {
    // x[i][j] = 4i + j. Rolling by (-1, -1) over (0, 1): out[i][j] = x[(i + 1) mod 4][(j + 1) mod 4],
    // the top row and left column wrap around to the bottom and the right.
    //    0  1  2  3              5  6  7  4
    //    4  5  6  7     --->     9 10 11  8
    //    8  9 10 11             13 14 15 12
    //   12 13 14 15              1  2  3  0
    Tensor grid = iota({4, 4});
    Tensor shifted = roll(grid, {-1, -1}, {0, 1});
    check_values(shifted, {4, 4}, {5, 6, 7, 4, 9, 10, 11, 8, 13, 14, 15, 12, 1, 2, 3, 0});
    CHECK(same_values(roll(shifted, {1, 1}, {0, 1}), grid));
    // On (B, H, W, C) as Swin does it, with a window of 4: shift by -2 over H and W, then back.
    Tensor x = random_tensor({2, 8, 8, 3}, 26, false);
    CHECK(same_values(roll(roll(x, {-2, -2}, {1, 2}), {2, 2}, {-3, -2}), x));
}

TEST_CASE("roll: the backward rolls dout back") {
    Tensor x = random_tensor({5}, 27);
    // out[i] = x[i - 2], so dx[j] = dout[j + 2]: (30, 40, 50, 10, 20)
    roll(x, {2}, {0}).backward(Tensor::from_vector({10, 20, 30, 40, 50}, {5}));
    check_values(x.grad(), {5}, {30, 40, 50, 10, 20});
}

TEST_CASE("roll: gradient checks") {
    Tensor a = random_tensor({4, 4}, 28);
    check_gradients([](const std::vector<Tensor>& in) { return roll(in[0], {-1, -1}, {0, 1}); }, {a});
    Tensor b = random_tensor({2, 3, 4}, 29);
    check_gradients([](const std::vector<Tensor>& in) { return roll(in[0], {1, -5}, {-1, 1}); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return roll(in[0], {1, 1}, {0, 0}); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return roll(in[0], {3}, {-2}); }, {b});
}

TEST_CASE("roll: mismatched shifts and dims, or a bad dim, name the shape") {
    Tensor x = Tensor::zeros({4, 4});
    const std::string count = thrown_message([&] { roll(x, {1, 2}, {0}); });
    CAPTURE(count);
    CHECK(contains(count, "(1, 2)"));
    CHECK(contains(count, "(0,)"));
    CHECK(contains(count, "(4, 4)"));
    const std::string dim = thrown_message([&] { roll(x, {1}, {2}); });
    CHECK(contains(dim, "roll: dim 2"));
    CHECK(contains(dim, "(4, 4)"));
}

TEST_CASE("roll on Swin-sized activations (threaded path) equals plain index arithmetic") {
    // (B, H, W, C) = (2, 16, 16, 64) = 32768 elements, rolled by (-3, -3) over H and W.
    const int64_t B = 2, H = 16, W = 16, C = 64;
    Tensor x = random_tensor({B, H, W, C}, 30);
    Tensor out = roll(x, {-3, -3}, {1, 2});
    Tensor dout = random_tensor(out.shape(), 31, false);
    out.backward(dout);
    bool forward_ok = true, backward_ok = true;
    for (int64_t b = 0; b < B; ++b)
        for (int64_t h = 0; h < H; ++h)
            for (int64_t w = 0; w < W; ++w)
                for (int64_t c = 0; c < C; ++c) {
                    // out[b, h, w, c] = x[b, (h + 3) mod H, (w + 3) mod W, c]
                    const int64_t o = ((b * H + h) * W + w) * C + c;
                    const int64_t i = ((b * H + (h + 3) % H) * W + (w + 3) % W) * C + c;
                    forward_ok = forward_ok && out.data()[o] == x.data()[i];
                    backward_ok = backward_ok && x.grad().data()[i] == dout.data()[o];
                }
    CHECK(forward_ok);
    CHECK(backward_ok);
    // Rolling the last dim takes the element-by-element path.
    Tensor y = random_tensor({4, 8192}, 32, false);
    Tensor rolled = roll(y, {5}, {-1});
    bool last_ok = true;
    for (int64_t r = 0; r < 4; ++r)
        for (int64_t j = 0; j < 8192; ++j)
            last_ok = last_ok && rolled.data()[r * 8192 + (j + 5) % 8192] == y.data()[r * 8192 + j];
    CHECK(last_ok);
}

// ---- shifted_copies ---------------------------------------------------------------------------------------

TEST_CASE("shifted_copies: values worked out by hand on a 3x3 image") {
    // x (1, 1, 3, 3) = [[0, 1, 2], [3, 4, 5], [6, 7, 8]], shift 1. Group g reads x at (y + dy, x + dx):
    //   g0 (0, 0)   the image       g1 (-1, -1): moved down-right      g2 (-1, +1): moved down-left
    //   g3 (+1, -1): moved up-right  g4 (+1, +1): moved up-left; pixels from outside are 0.
    Tensor x = iota({1, 1, 3, 3});
    check_values(shifted_copies(x, 1), {1, 5, 3, 3},
                 {0, 1, 2, 3, 4, 5, 6, 7, 8,     // g0
                  0, 0, 0, 0, 0, 1, 0, 3, 4,     // g1: out[y][x] = x[y-1][x-1]
                  0, 0, 0, 1, 2, 0, 4, 5, 0,     // g2: out[y][x] = x[y-1][x+1]
                  0, 3, 4, 0, 6, 7, 0, 0, 0,     // g3: out[y][x] = x[y+1][x-1]
                  4, 5, 0, 7, 8, 0, 0, 0, 0});   // g4: out[y][x] = x[y+1][x+1]
    // Shift 0: five copies of the image. Two channels: each group keeps the channel order.
    Tensor two = iota({1, 2, 2, 2});
    check_values(shifted_copies(two, 0), {1, 10, 2, 2},
                 {0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7,
                  0, 1, 2, 3, 4, 5, 6, 7});
}

TEST_CASE("shifted_copies: the backward sends each gradient back to the pixel it was copied from") {
    // With dout = 1 everywhere, dx counts the copies of each pixel: 5 at the centre of a 3x3 image with
    // shift 1 (every group holds it once), 2 at a corner (itself, and the one group moved away from it), 3 at an
    // edge's middle (itself and two groups).
    Tensor x = random_tensor({1, 1, 3, 3}, 40);
    shifted_copies(x, 1).backward(Tensor::ones({1, 5, 3, 3}));
    check_values(x.grad(), {1, 1, 3, 3}, {2, 3, 2, 3, 5, 3, 2, 3, 2});
}

TEST_CASE("shifted_copies: gradient checks") {
    Tensor a = random_tensor({1, 1, 3, 3}, 41);
    check_gradients([](const std::vector<Tensor>& in) { return shifted_copies(in[0], 1); }, {a});
    Tensor b = random_tensor({2, 3, 4, 5}, 42);
    check_gradients([](const std::vector<Tensor>& in) { return shifted_copies(in[0], 2); }, {b});
    check_gradients([](const std::vector<Tensor>& in) { return shifted_copies(in[0], 0); }, {b});
}

TEST_CASE("shifted_copies equals its primitives: roll, a 0/1 mask for what wrapped around, concat") {
    // Group g is the image rolled by (-dy, -dx) (torch.roll moves element i to i + shift), with the rows and
    // columns that wrapped around zeroed. Built from roll, mul and concat, forward and backward agree.
    const int64_t B = 2, C = 3, H = 8, W = 8, s = 2;
    Tensor x = random_tensor({B, C, H, W}, 43);
    const Tensor dout = random_tensor({B, 5 * C, H, W}, 44, false);
    Tensor fused = shifted_copies(x, s);
    fused.backward(dout);
    const std::vector<Scalar> fused_grad = x.grad().to_vector();
    x.zero_grad();
    const int64_t dy[5] = {0, -s, -s, s, s}, dx[5] = {0, -s, s, -s, s};
    std::vector<Tensor> groups;
    for (int g = 0; g < 5; ++g) {
        Tensor inside = Tensor::zeros({1, 1, H, W});  // 1 where (y + dy, x + dx) is in the image
        for (int64_t y = 0; y < H; ++y)
            for (int64_t col = 0; col < W; ++col)
                if (y + dy[g] >= 0 && y + dy[g] < H && col + dx[g] >= 0 && col + dx[g] < W) inside.data()[y * W + col] = 1;
        groups.push_back(roll(x, {-dy[g], -dx[g]}, {2, 3}) * inside);
    }
    Tensor composed = concat(groups, 1);
    composed.backward(dout);
    CHECK(same_values(fused, composed));
    // The five groups' gradients are summed in another order by the autograd of the composition.
    const std::vector<Scalar> composed_grad = x.grad().to_vector();
    REQUIRE(composed_grad.size() == fused_grad.size());
    for (size_t i = 0; i < fused_grad.size(); ++i) CHECK(composed_grad[i] == doctest::Approx(fused_grad[i]).epsilon(1e-12));
}

TEST_CASE("shifted_copies: images that are not 4-D, or a shift as large as the image, are refused") {
    CHECK(contains(thrown_message([] { shifted_copies(Tensor::zeros({3, 4, 4}), 1); }),
                   "shifted_copies: images (3, 4, 4), expected (B, C, H, W)"));
    CHECK(contains(thrown_message([] { shifted_copies(Tensor::zeros({1, 3, 4, 6}), 4); }),
                   "shifted_copies: shift 4 for images (1, 3, 4, 6), expected 0 <= shift < min(H, W)"));
    CHECK(contains(thrown_message([] { shifted_copies(Tensor::zeros({1, 3, 4, 6}), -1); }), "shift -1"));
}

// ---- unfold -----------------------------------------------------------------------------------------------

TEST_CASE("unfold: values worked out by hand, with and without padding") {
    // x (1, 1, 3, 3) = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]. Kernel 2, stride 1, no padding: 2 x 2 windows
    // starting at (0, 0), (0, 1), (1, 0), (1, 1), each read row by row.
    Tensor x = iota({1, 1, 3, 3});
    check_values(unfold(x, 2, 1, 0), {1, 4, 4}, {0, 1, 3, 4,   1, 2, 4, 5,   3, 4, 6, 7,   4, 5, 7, 8});
    // Kernel 3, stride 2, padding 1 (the conv stem's): Ho = (3 + 2 - 3) / 2 + 1 = 2. Window (i, j) starts at
    // (2i - 1, 2j - 1); the padding reads 0.
    check_values(unfold(x, 3, 2, 1), {1, 4, 9},
                 {0, 0, 0, 0, 0, 1, 0, 3, 4,      // (0, 0): rows -1..1, columns -1..1
                  0, 0, 0, 1, 2, 0, 4, 5, 0,      // (0, 1): columns 1..3
                  0, 3, 4, 0, 6, 7, 0, 0, 0,      // (1, 0): rows 1..3
                  4, 5, 0, 7, 8, 0, 0, 0, 0});    // (1, 1)
    // Two channels: a window lists channel 0's k x k numbers, then channel 1's ((c, u, v) order).
    Tensor two = iota({1, 2, 2, 2});
    check_values(unfold(two, 2, 2, 0), {1, 1, 8}, {0, 1, 2, 3, 4, 5, 6, 7});
    // A stride that does not fit exactly drops the last column: W = 4, k = 2, s = 3 -> Wo = 1.
    check_values(unfold(iota({1, 1, 2, 4}), 2, 3, 0), {1, 1, 4}, {0, 1, 4, 5});
}

TEST_CASE("unfold: the backward sends each gradient back to its pixel, summed over the windows that hold it") {
    // dout = 1 everywhere: dx counts each pixel's windows. Kernel 2, stride 1 on 3 x 3: a corner is in 1
    // window, an edge's middle in 2, the centre in all 4.
    Tensor x = random_tensor({1, 1, 3, 3}, 45);
    unfold(x, 2, 1, 0).backward(Tensor::ones({1, 4, 4}));
    check_values(x.grad(), {1, 1, 3, 3}, {1, 2, 1, 2, 4, 2, 1, 2, 1});
    // Kernel 3, stride 2, padding 1 on 4 x 4: rows 0..3 lie in windows starting at -1 (rows -1..1) and 1
    // (rows 1..3): row 1 in both, the others in one; the same for columns, so a pixel's count is the product.
    Tensor y = random_tensor({1, 1, 4, 4}, 46);
    unfold(y, 3, 2, 1).backward(Tensor::ones({1, 4, 9}));
    check_values(y.grad(), {1, 1, 4, 4}, {1, 2, 1, 1,   2, 4, 2, 2,   1, 2, 1, 1,   1, 2, 1, 1});
}

TEST_CASE("unfold: gradient checks") {
    Tensor a = random_tensor({1, 1, 3, 3}, 47);
    check_gradients([](const std::vector<Tensor>& in) { return unfold(in[0], 2, 1, 0); }, {a});
    Tensor b = random_tensor({2, 3, 4, 4}, 48);
    check_gradients([](const std::vector<Tensor>& in) { return unfold(in[0], 3, 2, 1); }, {b});
    Tensor c = random_tensor({1, 2, 5, 3}, 49);
    check_gradients([](const std::vector<Tensor>& in) { return unfold(in[0], 3, 1, 2); }, {c});
    // and its textbook twin
    check_gradients([](const std::vector<Tensor>& in) { return unfold_reference(in[0], 3, 2, 1); }, {b});
}

TEST_CASE("unfold with kernel = stride = P and no padding is patchify") {
    Tensor x = random_tensor({2, 3, 8, 8}, 50, false);
    CHECK(same_values(unfold(x, 4, 4, 0), patchify(x, 4)));
    CHECK(same_values(unfold(x, 2, 2, 0), patchify(x, 2)));
}

// fused(x) and composed(x) are the same function: equal values, and equal gradients of x for one dout.
static void check_same_function(const std::function<Tensor(const Tensor&)>& fused,
                                const std::function<Tensor(const Tensor&)>& composed, Tensor x, const Tensor& dout) {
    Tensor fused_out = fused(x);
    fused_out.backward(dout);
    const std::vector<Scalar> fused_grad = x.grad().to_vector();
    x.zero_grad();
    Tensor composed_out = composed(x);
    composed_out.backward(dout);
    CHECK(same_values(fused_out, composed_out));
    const std::vector<Scalar> composed_grad = x.grad().to_vector();
    REQUIRE(composed_grad.size() == fused_grad.size());
    for (size_t i = 0; i < fused_grad.size(); ++i)
        CHECK(composed_grad[i] == doctest::Approx(fused_grad[i]).epsilon(1e-12));
}

TEST_CASE("unfold equals its textbook twin (zero padding by concat, a strided slice per kernel offset, stack)") {
    // unfold_reference (core/ops/movement.cpp) builds the windows from primitives: the numbers at offset
    // (u, v) of every window form the slice [u::s, v::s] of the padded image. Forward and backward agree
    // with the op, with and without padding, with overlapping windows and with a stride that does not fit.
    const int64_t B = 2, C = 3, H = 7, W = 6;
    struct Window {
        int64_t k, s, p;
    };
    for (const Window window : {Window{3, 2, 1}, Window{2, 2, 0}, Window{3, 1, 2}, Window{2, 3, 0}}) {
        const int64_t k = window.k, s = window.s, p = window.p;
        CAPTURE(k);
        CAPTURE(s);
        CAPTURE(p);
        const int64_t L = ((H + 2 * p - k) / s + 1) * ((W + 2 * p - k) / s + 1);
        check_same_function([&](const Tensor& x) { return unfold(x, k, s, p); },
                            [&](const Tensor& x) { return unfold_reference(x, k, s, p); },
                            random_tensor({B, C, H, W}, 51), random_tensor({B, L, C * k * k}, 52, false));
    }
    CHECK(contains(thrown_message([] { unfold_reference(Tensor::zeros({1, 3, 2, 4}), 5, 1, 1); }),
                   "unfold_reference: a 5 x 5 window does not fit images (1, 3, 2, 4) padded by 1"));
    CHECK(contains(thrown_message([] { unfold_reference(Tensor::zeros({3, 4, 4}), 3, 2, 1); }),
                   "unfold_reference: images (3, 4, 4), expected (B, C, H, W)"));
}

TEST_CASE("unfold: images that are not 4-D, impossible kernels and windows larger than the image are refused") {
    CHECK(contains(thrown_message([] { unfold(Tensor::zeros({3, 4, 4}), 3, 2, 1); }),
                   "unfold: images (3, 4, 4), expected (B, C, H, W)"));
    CHECK(contains(thrown_message([] { unfold(Tensor::zeros({1, 3, 4, 4}), 0, 1, 0); }),
                   "unfold: kernel 0, stride 1, padding 0, expected kernel >= 1"));
    CHECK(contains(thrown_message([] { unfold(Tensor::zeros({1, 3, 4, 4}), 3, 0, 1); }), "stride 0"));
    CHECK(contains(thrown_message([] { unfold(Tensor::zeros({1, 3, 4, 4}), 3, 1, 3); }), "padding 3"));
    CHECK(contains(thrown_message([] { unfold(Tensor::zeros({1, 3, 2, 4}), 5, 1, 1); }),
                   "unfold: a 5 x 5 window does not fit images (1, 3, 2, 4) padded by 1"));
}

// ---- unfold_channels_last --------------------------------------------------------------------------------

TEST_CASE("unfold_channels_last: values worked out by hand; each window is k*k runs of C channels") {
    // x (1, 2, 2, 2): pixel (y, x) holds channels (10 (2y + x), 10 (2y + x) + 1). Kernel 2, stride 1,
    // padding 0: one window, the 4 pixels row by row, each pixel's 2 channels together ((u, v, c) order).
    const Tensor x = Tensor::from_vector({0, 1, 10, 11, 20, 21, 30, 31}, {1, 2, 2, 2});
    check_values(unfold_channels_last(x, 2, 1, 0), {1, 1, 8}, {0, 1, 10, 11, 20, 21, 30, 31});
    // Kernel 3, stride 2, padding 1 on one channel (3 x 3 = [[0, 1, 2], [3, 4, 5], [6, 7, 8]]): with C = 1
    // the two orders agree, so the windows are unfold's (its hand-worked test above).
    check_values(unfold_channels_last(iota({1, 3, 3, 1}), 3, 2, 1), {1, 4, 9},
                 {0, 0, 0, 0, 0, 1, 0, 3, 4,      // (0, 0): rows -1..1, columns -1..1
                  0, 0, 0, 1, 2, 0, 4, 5, 0,      // (0, 1)
                  0, 3, 4, 0, 6, 7, 0, 0, 0,      // (1, 0)
                  4, 5, 0, 7, 8, 0, 0, 0, 0});    // (1, 1)
    // Two channels and padding: window (0, 0) of kernel 3, stride 2, padding 1 on the 2 x 2 image above
    // reads rows -1..1 and columns -1..1: padding runs of two zeros, then the pixels (0,0), (0,1), (1,0), (1,1).
    check_values(unfold_channels_last(x, 3, 2, 1), {1, 1, 18},
                 {0, 0,  0, 0,   0, 0,      // row -1
                  0, 0,  0, 1,   10, 11,    // row 0: column -1, 0, 1
                  0, 0,  20, 21, 30, 31});  // row 1
}

TEST_CASE("unfold_channels_last: the backward sums each pixel's copies, channel by channel") {
    // Kernel 3, stride 2, padding 1 on 4 x 4 with 2 channels: each pixel's count of windows, as for unfold
    // (1, 2 or 4), the same for both its channels.
    Tensor y = random_tensor({1, 4, 4, 2}, 53);
    unfold_channels_last(y, 3, 2, 1).backward(Tensor::ones({1, 4, 18}));
    check_values(y.grad(), {1, 4, 4, 2}, {1, 1, 2, 2, 1, 1, 1, 1,   2, 2, 4, 4, 2, 2, 2, 2,
                                          1, 1, 2, 2, 1, 1, 1, 1,   1, 1, 2, 2, 1, 1, 1, 1});
}

TEST_CASE("unfold_channels_last: gradient checks") {
    Tensor a = random_tensor({1, 3, 3, 2}, 54);
    check_gradients([](const std::vector<Tensor>& in) { return unfold_channels_last(in[0], 2, 1, 0); }, {a});
    Tensor b = random_tensor({2, 4, 4, 3}, 55);
    check_gradients([](const std::vector<Tensor>& in) { return unfold_channels_last(in[0], 3, 2, 1); }, {b});
    Tensor c = random_tensor({1, 5, 3, 2}, 56);
    check_gradients([](const std::vector<Tensor>& in) { return unfold_channels_last(in[0], 3, 1, 2); }, {c});
}

TEST_CASE("unfold_channels_last equals unfold of the permuted images with each row reordered, values and gradients") {
    // unfold(permute(x, NCHW)) gives rows in (c, u, v) order; reshaping a row to (C, k*k) and transposing
    // gives (k*k, C): the (u, v, c) order.
    const int64_t B = 2, H = 7, W = 6, C = 3;
    struct Window {
        int64_t k, s, p;
    };
    for (const Window window : {Window{3, 2, 1}, Window{2, 2, 0}, Window{3, 1, 2}}) {
        const int64_t k = window.k, s = window.s, p = window.p;
        CAPTURE(k);
        CAPTURE(s);
        CAPTURE(p);
        const int64_t L = ((H + 2 * p - k) / s + 1) * ((W + 2 * p - k) / s + 1);
        const auto reordered = [&](const Tensor& x) {
            const Tensor rows = unfold(permute(x, {0, 3, 1, 2}), k, s, p);                    // (B, L, C*k*k)
            return reshape(transpose(reshape(rows, {B, L, C, k * k}), 2, 3), {B, L, k * k * C});
        };
        check_same_function([&](const Tensor& x) { return unfold_channels_last(x, k, s, p); }, reordered,
                            random_tensor({B, H, W, C}, 57), random_tensor({B, L, k * k * C}, 58, false));
    }
}

TEST_CASE("unfold_channels_last: images that are not 4-D, impossible kernels and windows larger than the image are refused") {
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor::zeros({4, 4, 3}), 3, 2, 1); }),
                   "unfold_channels_last: images (4, 4, 3), expected (B, H, W, C)"));
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor::zeros({1, 4, 4, 3}), 0, 1, 0); }),
                   "unfold_channels_last: kernel 0, stride 1, padding 0, expected kernel >= 1"));
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor::zeros({1, 4, 4, 3}), 3, 0, 1); }), "stride 0"));
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor::zeros({1, 4, 4, 3}), 3, 1, 3); }), "padding 3"));
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor::zeros({1, 2, 4, 3}), 5, 1, 1); }),
                   "unfold_channels_last: a 5 x 5 window does not fit images (1, 2, 4, 3) padded by 1"));
    CHECK(contains(thrown_message([] { unfold_channels_last(Tensor(), 3, 2, 1); }), "unfold_channels_last: images"));
}

// ---- expand ---------------------------------------------------------------------------------------------

TEST_CASE("expand: values worked out by hand, and the backward sums over the copies") {
    // The CLS token: (1, 1, 2) = [[[7, 8]]] -> (3, 1, 2): three copies [7, 8, 7, 8, 7, 8]
    Tensor cls = Tensor::from_vector({7, 8}, {1, 1, 2});
    cls.requires_grad_();
    Tensor out = expand(cls, {3, 1, 2});
    check_values(out, {3, 1, 2}, {7, 8, 7, 8, 7, 8});
    // dout = [1, 2, 3, 4, 5, 6]: cls element 0 was copied to 0, 2, 4 -> 1 + 3 + 5 = 9; element 1 -> 2 + 4 + 6 = 12
    out.backward(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {3, 1, 2}));
    check_values(cls.grad(), {1, 1, 2}, {9, 12});
    // A column (2, 1) = [[1], [2]] -> (2, 3): each row repeats its number; a missing leading dim:
    // (3,) = [0, 1, 2] -> (2, 3): the row twice
    check_values(expand(Tensor::from_vector({1, 2}, {2, 1}), {2, 3}), {2, 3}, {1, 1, 1, 2, 2, 2});
    check_values(expand(iota({3}), {2, 3}), {2, 3}, {0, 1, 2, 0, 1, 2});
    // Equal shapes: a copy, not the same storage
    Tensor same = iota({2, 2});
    Tensor copy = expand(same, {2, 2});
    CHECK(same_values(copy, same));
    copy.data()[0] = 42;
    CHECK(same.data()[0] == 0);
}

TEST_CASE("expand: gradient checks") {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{1, 1, 4}, {3, 1, 4}}, {{4}, {2, 3, 4}}, {{3, 1}, {2, 3, 5}}, {{2, 3}, {2, 3}}, {{}, {2, 2}}, {{1, 3, 1}, {2, 3, 4}},
    };
    for (const auto& [from, to] : cases) {
        const std::string shapes = to_string(from) + " -> " + to_string(to);
        CAPTURE(shapes);
        Tensor x = random_tensor(from, 26);
        const Shape target = to;
        check_gradients([target](const std::vector<Tensor>& in) { return expand(in[0], target); }, {x});
    }
}

TEST_CASE("expand on a large tensor (threaded path) equals plain index arithmetic") {
    // (1, 50, 1, 8) -> (4, 50, 30, 8): 48000 elements
    Tensor x = iota({1, 50, 1, 8});
    Tensor out = expand(x, {4, 50, 30, 8});
    bool all_equal = true;
    for (int64_t b = 0; b < 4; ++b)
        for (int64_t t = 0; t < 50; ++t)
            for (int64_t w = 0; w < 30; ++w)
                for (int64_t c = 0; c < 8; ++c)
                    all_equal = all_equal && out.data()[((b * 50 + t) * 30 + w) * 8 + c] == x.data()[t * 8 + c];
    CHECK(all_equal);
}

TEST_CASE("expand: a shape x does not broadcast to names both shapes") {
    const std::string size = thrown_message([] { expand(Tensor::ones({2, 3}), {2, 4}); });
    CHECK(contains(size, "(2, 3)"));
    CHECK(contains(size, "(2, 4)"));
    // Fewer dims than x, and a non-1 size that would have to shrink
    const std::string rank = thrown_message([] { expand(Tensor::ones({2, 3}), {3}); });
    CHECK(contains(rank, "(2, 3)"));
    CHECK(contains(rank, "(3,)"));
    const std::string stretch = thrown_message([] { expand(Tensor::ones({3, 1}), {1, 4}); });
    CHECK(contains(stretch, "(3, 1)"));
    CHECK(contains(stretch, "(1, 4)"));
    CHECK(contains(thrown_message([] { expand(Tensor(), {2}); }), "expand: x is an undefined tensor"));
}
