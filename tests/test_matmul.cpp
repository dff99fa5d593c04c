// matmul (core/ops/matmul.cpp): values, broadcasting of batch dimensions, 1-D operands, gradients.
#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("matmul: values worked out by hand") {
    // [[1, 2], [3, 4]] @ [[5, 6], [7, 8]] = [[1*5 + 2*7, 1*6 + 2*8], [3*5 + 4*7, 3*6 + 4*8]] = [[19, 22], [43, 50]]
    Tensor a = Tensor::from_vector({1, 2, 3, 4}, {2, 2});
    Tensor b = Tensor::from_vector({5, 6, 7, 8}, {2, 2});
    check_values(matmul(a, b), {2, 2}, {19, 22, 43, 50});
    // a row vector times a matrix: (1, 2) @ b = [1*5 + 2*7, 1*6 + 2*8] = [19, 22]
    check_values(matmul(Tensor::from_vector({1, 2}, {2}), b), {2}, {19, 22});
    // a matrix times a column vector: a @ (1, 1) = [3, 7]
    check_values(matmul(a, Tensor::from_vector({1, 1}, {2})), {2}, {3, 7});
    // a dot product: 1*4 + 2*5 + 3*6 = 32
    check_values(matmul(Tensor::from_vector({1, 2, 3}, {3}), Tensor::from_vector({4, 5, 6}, {3})), {}, {32});
}

TEST_CASE("matmul: batch dimensions broadcast") {
    // Batch item 1 of a is 2a_0; b is shared: its product is twice item 0's.
    Tensor a0 = Tensor::from_vector({1, 2, 3, 4}, {1, 2, 2});
    Tensor a = concat({a0, a0 * Scalar(2)}, 0);  // (2, 2, 2)
    Tensor b = Tensor::from_vector({5, 6, 7, 8}, {1, 2, 2});
    check_values(matmul(a, b), {2, 2, 2}, {19, 22, 43, 50, 38, 44, 86, 100});
    // (2, 1, 2, 2) @ (3, 2, 2) -> (2, 3, 2, 2)
    Tensor c = random_tensor({2, 1, 2, 2}, 1, false);
    Tensor d = random_tensor({3, 2, 2}, 2, false);
    Tensor out = matmul(c, d);
    CHECK(out.shape() == Shape{2, 3, 2, 2});
    // item (1, 2) is c[1, 0] @ d[2]
    Tensor expected = matmul(reshape(slice(c, 0, 1, 2), {2, 2}), reshape(slice(d, 0, 2, 3), {2, 2}));
    check_close(reshape(slice(slice(out, 0, 1, 2), 1, 2, 3), {2, 2}), expected);
}

TEST_CASE("matmul: gradient checks, including broadcast batches and vectors") {
    const std::vector<std::pair<Shape, Shape>> cases = {
        {{3, 4}, {4, 5}},          {{1, 1}, {1, 1}},       {{2, 3, 4}, {4, 5}},       {{2, 3, 4}, {2, 4, 5}},
        {{2, 1, 3, 4}, {3, 4, 2}}, {{1, 3, 4}, {2, 4, 5}}, {{4, 3}, {2, 3, 2}},       {{3}, {3, 2}},
        {{3}, {2, 3, 4}},          {{2, 3}, {3}},          {{4}, {4}},                {{13, 17}, {17, 19}},
    };
    for (const auto& shapes : cases) {
        const Shape& a_shape = shapes.first;  // (clang < 16 cannot capture a structured binding)
        const Shape& b_shape = shapes.second;
        CAPTURE(to_string(a_shape));
        CAPTURE(to_string(b_shape));
        Tensor a = random_tensor(a_shape, 3);
        Tensor b = random_tensor(b_shape, 4);
        check_gradients([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); }, {a, b});
    }
}

TEST_CASE("matmul: mismatched shapes name both") {
    const std::string message = thrown_message([] { matmul(Tensor::ones({2, 3}), Tensor::ones({4, 5})); });
    CHECK(contains(message, "(2, 3)"));
    CHECK(contains(message, "(4, 5)"));
    const std::string batch = thrown_message([] { matmul(Tensor::ones({2, 3, 4}), Tensor::ones({3, 4, 5})); });
    CHECK(contains(batch, "(2, 3, 4)"));
    CHECK(contains(batch, "(3, 4, 5)"));
    CHECK(contains(thrown_message([] { matmul(Tensor::ones({3}), Tensor::ones({4})); }), "(4,)"));
    CHECK(contains(thrown_message([] { matmul(Tensor::ones({}), Tensor::ones({4})); }), "()"));
}
