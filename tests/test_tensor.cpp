// Tensor creation, shapes and data access (core/tensor.h), and the random number generator (core/random.h).
#include <cmath>

#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("creation: zeros, ones, full, arange, from_vector, scalar") {
    check_values(Tensor::zeros({2, 2}), {2, 2}, {0, 0, 0, 0});
    check_values(Tensor::ones({3}), {3}, {1, 1, 1});
    check_values(Tensor::full({1, 2}, 7), {1, 2}, {7, 7});
    check_values(Tensor::arange(4), {4}, {0, 1, 2, 3});
    check_values(Tensor::arange(1, 2, 0.25), {4}, {1, 1.25, 1.5, 1.75});  // 1 + k/4 for k = 0..3 (< 2)
    check_values(Tensor::from_vector({1, 2, 3, 4, 5, 6}, {2, 3}), {2, 3}, {1, 2, 3, 4, 5, 6});
    Tensor s = Tensor::scalar(2.5);
    CHECK(s.dim() == 0);
    CHECK(s.numel() == 1);
    CHECK(s.item() == 2.5);
    CHECK(Tensor::zeros({0, 3}).numel() == 0);
}

TEST_CASE("shape queries and row-major layout") {
    Tensor t = Tensor::arange(24);
    Tensor r = reshape(t, {2, 3, 4});
    CHECK(r.dim() == 3);
    CHECK(r.size(0) == 2);
    CHECK(r.size(-1) == 4);
    CHECK(r.numel() == 24);
    // element (1, 2, 3) sits at (1 * 3 + 2) * 4 + 3 = 23
    CHECK(r.data()[(1 * 3 + 2) * 4 + 3] == 23);
    CHECK(r.to_string() == "tensor((2, 3, 4), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, ...])");
    CHECK(to_string(Shape{5}) == "(5,)");
    CHECK(to_string(Shape{}) == "()");
}

TEST_CASE("bad creation and access calls name what was expected") {
    CHECK(contains(thrown_message([] { Tensor::from_vector({1, 2, 3}, {2, 2}); }), "(2, 2)"));
    CHECK(contains(thrown_message([] { Tensor::zeros({2, -1}); }), "(2, -1)"));
    CHECK(contains(thrown_message([] { Tensor::ones({2, 3}).item(); }), "(2, 3)"));
    CHECK(contains(thrown_message([] { Tensor::ones({2, 3}).size(2); }), "rank 2"));
    CHECK(contains(thrown_message([] { Tensor().shape(); }), "undefined"));
    CHECK(contains(thrown_message([] { Tensor::arange(0, 1, 0); }), "step"));
}

TEST_CASE("clone copies; reshape and detach share") {
    Tensor a = Tensor::arange(4);
    Tensor c = a.clone();
    c.data()[0] = 9;
    CHECK(a.data()[0] == 0);
    Tensor r = reshape(a, {2, 2});
    r.data()[0] = 9;
    CHECK(a.data()[0] == 9);
}

TEST_CASE("Rng: reproducible from its seed, and its state can be saved and restored") {
    Rng a(42), b(42), c(43);
    const uint64_t first = a.next_u64();
    CHECK(first == b.next_u64());
    CHECK(first != c.next_u64());
    const Rng::State saved = a.state();
    const double x = a.uniform();
    a.set_state(saved);
    CHECK(a.uniform() == x);
}

TEST_CASE("Rng: uniform, normal and randint have the right ranges and moments") {
    Rng rng(7);
    const int n = 200000;
    double sum = 0, sum_sq = 0;
    for (int i = 0; i < n; ++i) {
        const double u = rng.uniform(-2, 3);
        CHECK_UNARY(u >= -2);
        CHECK_UNARY(u < 3);
        const double z = rng.normal();
        sum += z;
        sum_sq += z * z;
    }
    // mean 0 and variance 1, within ~5 standard errors (1/sqrt(n) ~ 0.0022 for the mean)
    CHECK(std::abs(sum / n) < 0.012);
    CHECK(std::abs(sum_sq / n - 1) < 0.02);
    int counts[3] = {0, 0, 0};
    for (int i = 0; i < 30000; ++i) ++counts[rng.randint(3)];
    for (int c : counts) CHECK(std::abs(c - 10000) < 500);
    CHECK(contains(thrown_message([&] { rng.randint(0); }), "positive"));
}

TEST_CASE("random tensors come from the Rng alone") {
    Rng a(1), b(1);
    Tensor x = Tensor::normal({3, 4}, 0, 1, a);
    Tensor y = Tensor::normal({3, 4}, 0, 1, b);
    CHECK(x.to_vector() == y.to_vector());
    Tensor u = Tensor::uniform({1000}, 2, 3, a);
    for (Scalar v : u.to_vector()) CHECK_UNARY(v >= 2 && v < 3);
}
