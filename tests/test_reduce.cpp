// Reductions (core/ops/reduce.cpp): sum, mean, max, argmax; values by hand, gradient checks along every
// dim (negative ones too), ties, errors, and the threaded path against a plain loop.
#include <functional>
#include <string>
#include <vector>

#include "tests/helpers.h"

using namespace patchgrad;

namespace {

// 0, 1, ..., numel-1 in the given shape.
Tensor iota(const Shape& shape) { return Tensor::from_vector(Tensor::arange(numel_of(shape)).to_vector(), shape); }

}  // namespace

TEST_CASE("sum: values worked out by hand") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});  // [[1, 2, 3], [4, 5, 6]]
    check_values(sum(x), {}, {21});                              // 1 + 2 + .. + 6 = 21
    check_values(sum(x, 0), {3}, {5, 7, 9});                     // 1+4, 2+5, 3+6
    check_values(sum(x, 1, true), {2, 1}, {6, 15});              // 1+2+3, 4+5+6, keeping the dim
    check_values(sum(x, -1), {2}, {6, 15});                      // -1 is dim 1
    // x (2, 3, 4) = 0 .. 23, so x[o, k, i] = 12o + 4k + i, and along dim 1
    //   out[o, i] = (12o + i) + (12o + 4 + i) + (12o + 8 + i) = 36o + 12 + 3i
    check_values(sum(iota({2, 3, 4}), 1), {2, 4}, {12, 15, 18, 21, 48, 51, 54, 57});
    check_values(sum(iota({2, 3, 4}), -3, true), {1, 3, 4},     // out[k, i] = (4k + i) + (12 + 4k + i) = 12 + 8k + 2i
                 {12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34});
}

TEST_CASE("mean: values worked out by hand") {
    Tensor x = Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3});
    check_values(mean(x), {}, {3.5});                            // 21 / 6
    check_values(mean(x, 0), {3}, {2.5, 3.5, 4.5});              // (1+4)/2, (2+5)/2, (3+6)/2
    check_values(mean(x, -1, true), {2, 1}, {2, 5});             // 6/3, 15/3
}

TEST_CASE("sum and mean: gradient checks, every dim, keepdim or not") {
    for (const Shape& shape : {Shape{5}, Shape{3, 4}, Shape{2, 3, 4}}) {
        const int64_t rank = static_cast<int64_t>(shape.size());
        Tensor x = random_tensor(shape, 7 + rank);
        CAPTURE(to_string(shape));
        check_gradients([](const std::vector<Tensor>& in) { return sum(in[0]); }, {x});
        check_gradients([](const std::vector<Tensor>& in) { return mean(in[0]); }, {x});
        for (int64_t dim = -rank; dim < rank; ++dim) {
            for (bool keepdim : {false, true}) {
                CAPTURE(dim);
                CAPTURE(keepdim);
                check_gradients([=](const std::vector<Tensor>& in) { return sum(in[0], dim, keepdim); }, {x});
                check_gradients([=](const std::vector<Tensor>& in) { return mean(in[0], dim, keepdim); }, {x});
            }
        }
    }
}

TEST_CASE("max and argmax: values by hand, and ties go to the first maximum") {
    Tensor x = Tensor::from_vector({1, 5, 3, 7, 2, 7}, {2, 3});  // [[1, 5, 3], [7, 2, 7]]
    x.requires_grad_();
    check_values(max(x, 1), {2}, {5, 7});                        // max(1, 5, 3), max(7, 2, 7)
    check_values(max(x, 0, true), {1, 3}, {7, 5, 7});            // max(1, 7), max(5, 2), max(3, 7)
    check_values(argmax(x, 1), {2}, {1, 0});                     // 5 is at 1; the first 7 is at 0, not 2
    check_values(argmax(x, -2, true), {1, 3}, {1, 0, 1});
    check_values(max(x), {}, {7});

    // The gradient of max goes to the first maximum only: x[1][0], not x[1][2].
    max(x).backward();
    check_values(x.grad(), {2, 3}, {0, 0, 0, 1, 0, 0});
    x.zero_grad();
    // Along dim 1, with dout = (10, 20): row 0's maximum is x[0][1], row 1's first maximum x[1][0].
    max(x, 1).backward(Tensor::from_vector({10, 20}, {2}));
    check_values(x.grad(), {2, 3}, {0, 10, 0, 20, 0, 0});
    x.zero_grad();
    // Along dim 0, with dout = (1, 2, 3): column maxima x[1][0], x[0][1], x[1][2].
    max(x, 0).backward(Tensor::from_vector({1, 2, 3}, {3}));
    check_values(x.grad(), {2, 3}, {0, 2, 0, 1, 0, 3});
}

TEST_CASE("argmax has no gradient: its output never requires grad") {
    Tensor x = random_tensor({3, 4}, 3);
    Tensor index = argmax(x, 1);
    CHECK_FALSE(index.requires_grad());
    CHECK(std::string(index.op_name()) == "leaf");
}

TEST_CASE("max: gradient checks (random inputs, so no ties)") {
    for (const Shape& shape : {Shape{6}, Shape{3, 4}, Shape{2, 3, 4}}) {
        const int64_t rank = static_cast<int64_t>(shape.size());
        Tensor x = random_tensor(shape, 20 + rank, true, -3, 3);
        CAPTURE(to_string(shape));
        check_gradients([](const std::vector<Tensor>& in) { return max(in[0]); }, {x});
        for (int64_t dim = -rank; dim < rank; ++dim) {
            CAPTURE(dim);
            check_gradients([=](const std::vector<Tensor>& in) { return max(in[0], dim, dim % 2 == 0); }, {x});
        }
    }
}

TEST_CASE("reductions: a dim out of range names the dim and the shape") {
    Tensor x = Tensor::zeros({2, 3});
    for (const auto& action : std::vector<std::function<void()>>{
             [&] { sum(x, 2); }, [&] { mean(x, -3); }, [&] { max(x, 2); }, [&] { argmax(x, 5, true); }}) {
        const std::string msg = thrown_message(action);
        CAPTURE(msg);
        CHECK(contains(msg, "(2, 3)"));
        CHECK(contains(msg, "out of range"));
    }
    CHECK(contains(thrown_message([&] { sum(x, 2); }), "sum: dim 2"));
    CHECK(contains(thrown_message([&] { mean(x, -3); }), "mean: dim -3"));
    // The maximum of nothing does not exist.
    Tensor empty = Tensor::zeros({2, 0});
    CHECK(contains(thrown_message([&] { max(empty, 1); }), "(2, 0)"));
    CHECK(contains(thrown_message([&] { max(empty); }), "(2, 0)"));
    CHECK(contains(thrown_message([&] { argmax(empty, -1); }), "(2, 0)"));
    // Summing nothing is fine: it is zero.
    check_values(sum(empty, 1), {2}, {0, 0});
}

TEST_CASE("reductions: the threaded path (above 32768 elements) equals a plain loop, exactly") {
    // x (outer 16, n 64, inner 48) = 49152 elements, reduced along dim 1.
    const int64_t outer = 16, n = 64, inner = 48;
    Tensor x = random_tensor({outer, n, inner}, 99);
    const Tensor s = sum(x, 1), m = max(x, 1), a = argmax(x, 1);
    bool all_equal = true;
    for (int64_t o = 0; o < outer; ++o) {
        for (int64_t i = 0; i < inner; ++i) {
            Scalar total = 0, best = x.data()[o * n * inner + i];
            int64_t where = 0;
            for (int64_t k = 0; k < n; ++k) {
                const Scalar v = x.data()[(o * n + k) * inner + i];
                total += v;  // the same order as the kernel, so the same bits
                if (v > best) {
                    best = v;
                    where = k;
                }
            }
            all_equal = all_equal && s.data()[o * inner + i] == total && m.data()[o * inner + i] == best &&
                        a.data()[o * inner + i] == static_cast<Scalar>(where);
        }
    }
    CHECK(all_equal);
    // And the backward of sum: every element of a row gets that row's dout.
    Tensor dout = random_tensor({outer, inner}, 100, false);
    sum(x, 1).backward(dout);
    bool grad_equal = true;
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t k = 0; k < n; ++k)
            for (int64_t i = 0; i < inner; ++i)
                grad_equal = grad_equal && x.grad().data()[(o * n + k) * inner + i] == dout.data()[o * inner + i];
    CHECK(grad_equal);
}
