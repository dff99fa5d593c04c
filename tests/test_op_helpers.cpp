// Tests for the sums in core/ops/op_helpers.h that LayerNorm, linear's bias gradient and attention use:
// lane_sum (a row sum in 16 lanes) and add_column_sums (a column sum in fixed chunks of rows).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "core/ops/op_helpers.h"
#include "tests/helpers.h"

using namespace patchgrad;

TEST_CASE("lane_sum: exact on integers for lengths around the 16 lanes, including 0") {
    for (int64_t n : {0, 1, 2, 15, 16, 17, 31, 32, 33, 65, 128, 1000}) {
        const Scalar total = lane_sum(n, [](int64_t k) { return Scalar(k + 1); });
        INFO("n=", n);
        CHECK(total == Scalar(n * (n + 1) / 2));  // 1 + 2 + ... + n, exact in floating point at these sizes
    }
}

TEST_CASE("lane_sum: the lanes are added in the documented order, lane l taking k = l, l + 16, ...") {
    // Terms whose sum depends on the grouping: 1e17 and -1e17 cancel only if they meet before the 1s are
    // added to them. k = 0 (lane 0) is 1e17, k = 16 (lane 0 again) is -1e17: they cancel inside lane 0,
    // so the fifteen 1s of lanes 1..15 and the 1 at k = 17 (lane 1) all survive: 16.
    // A single running sum from k = 0 would lose the 1s at k = 1..15 against 1e17 and give 1.
    std::vector<Scalar> x(18, 1);
    x[0] = 1e17;
    x[16] = -1e17;
    const Scalar grouped = lane_sum(int64_t(x.size()), [&](int64_t k) { return x[size_t(k)]; });
    Scalar in_order = 0;
    for (Scalar v : x) in_order += v;
    CHECK(grouped == 16);
    CHECK(in_order == 1);
}

TEST_CASE("add_column_sums: by hand, added into what is there, and the same bits on 1 and 2 threads") {
    // x (3, 2) = [[1, 2], [3, 4], [5, 6]]: column sums 9 and 12, added into out = [10, 20]
    const std::vector<Scalar> x = {1, 2, 3, 4, 5, 6};
    std::vector<Scalar> out = {10, 20};
    add_column_sums(x.data(), 3, 2, out.data());
    CHECK(out == std::vector<Scalar>{19, 32});

    // 1000 rows (16 chunks of 64, the last one short) x 70 columns: parallel on 2 threads
    const int64_t R = 1000, C = 70;
    std::vector<Scalar> big(size_t(R * C));
    for (size_t i = 0; i < big.size(); ++i) big[i] = Scalar((i * 7919) % 1000) / 997 - Scalar(0.5);
    std::vector<Scalar> one(size_t(C), 0), two(size_t(C), 0);
    with_threads(1, [&] { add_column_sums(big.data(), R, C, one.data()); return 0; });
    with_threads(2, [&] { add_column_sums(big.data(), R, C, two.data()); return 0; });
    CHECK(std::memcmp(one.data(), two.data(), one.size() * sizeof(Scalar)) == 0);
    for (int64_t c = 0; c < C; ++c) {
        long double exact = 0;
        for (int64_t r = 0; r < R; ++r) exact += big[size_t(r * C + c)];
        CHECK(double(one[size_t(c)]) == doctest::Approx(double(exact)).epsilon(1e-12));
    }
}
