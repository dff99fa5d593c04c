// fast_exp and fast_erf (core/ops/fast_math.h): the float versions against the C library in double.
// This file is compiled in the float64 flavour, but the float overloads are called explicitly (1.0f).
#include <doctest/doctest.h>

#include <cmath>
#include <initializer_list>
#include <limits>

#include "core/ops/fast_math.h"

using namespace patchgrad;

namespace {
constexpr double kFloatUlp = 1.0 / (1 << 23);  // the spacing of floats in [1, 2): 2^-23
}

TEST_CASE("fast_exp: within 2 float ulps of e^x from -87 to 88, e.g. e^1 = 2.7182817") {
    CHECK(fast_exp(1.0f) == doctest::Approx(2.718281828).epsilon(2e-7));
    CHECK(fast_exp(0.0f) == 1.0f);  // n = 0, r = 0: the series gives exactly 1
    double worst = 0;
    int count = 0;
    for (double x = -87.0; x <= 88.0; x += 0.001, ++count) {
        const float xf = static_cast<float>(x);
        const double exact = std::exp(static_cast<double>(xf));
        worst = std::max(worst, std::fabs(fast_exp(xf) - exact) / exact);
    }
    CHECK(count > 170000);
    CHECK(worst < 2 * kFloatUlp);  // measured 1.2 ulps (relative error 7.2e-8)
}

TEST_CASE("fast_exp: -inf and very negative x give exactly 0, NaN stays NaN, large x saturate at e^88") {
    CHECK(fast_exp(-std::numeric_limits<float>::infinity()) == 0.0f);
    CHECK(fast_exp(-100.0f) == 0.0f);
    CHECK(std::isnan(fast_exp(std::numeric_limits<float>::quiet_NaN())));
    CHECK(fast_exp(1000.0f) == fast_exp(88.0f));
    CHECK(std::isfinite(fast_exp(88.0f)));
}

TEST_CASE("fast_erf: within 5e-7 of erf on a fine grid over [-8, 8], odd, and 1 far out; erf(0.5) = 0.5204999") {
    CHECK(fast_erf(0.5f) == doctest::Approx(0.5204998778).epsilon(1e-6));
    CHECK(fast_erf(0.0f) == doctest::Approx(0.0).epsilon(1e-6));
    CHECK(fast_erf(-0.5f) == -fast_erf(0.5f));
    CHECK(fast_erf(10.0f) == 1.0f);
    CHECK(fast_erf(-10.0f) == -1.0f);
    CHECK(std::isnan(fast_erf(std::numeric_limits<float>::quiet_NaN())));
    double worst = 0;
    for (double x = -8.0; x <= 8.0; x += 0.0001) {
        const float xf = static_cast<float>(x);
        worst = std::max(worst, std::fabs(fast_erf(xf) - std::erf(static_cast<double>(xf))));
    }
    CHECK(worst < 5e-7);  // measured 4.5e-7, near x = 0 (see fast_math.h)
}

TEST_CASE("fast_erf_with_exp: GELU's shared exponential, e^(-v^2/2) for erf(v / sqrt 2), within 6e-7") {
    // GELU's backward passes e^(-v^2/2), computed from v, where fast_erf would compute e^(-x^2) from
    // x = v / sqrt 2: the two exponentials differ by a rounding or two, and the result must not drift.
    const float inv_sqrt2 = 0.70710678f;
    double worst = 0;
    for (double v = -11.0; v <= 11.0; v += 0.0001) {
        const float vf = static_cast<float>(v);
        const float e = fast_exp(-0.5f * vf * vf);
        const float x = vf * inv_sqrt2;
        worst = std::max(worst, std::fabs(fast_erf_with_exp(x, e) - std::erf(static_cast<double>(x))));
    }
    // measured 4.7e-7 with fused multiply-adds (-O3 -march=native), 5.3e-7 without (-O1, the sanitizer
    // build): on this grid of v / sqrt 2 the plain fast_erf measures the same, so sharing costs nothing
    CHECK(worst < 6e-7);
    CHECK(fast_erf_with_exp(0.5f, fast_exp(-0.25f)) == fast_erf(0.5f));  // the same formula, the same bits
}

TEST_CASE("fast_exp and fast_erf in double are the C library's functions, bit for bit") {
    for (double x : {-50.0, -3.3, -0.1, 0.0, 0.7, 2.5, 40.0}) {
        CHECK(fast_exp(x) == std::exp(x));
        CHECK(fast_erf(x) == std::erf(x));
        CHECK(fast_erf_with_exp(x, 0.0) == std::erf(x));  // the given exponential is not used
    }
}
