#pragma once
// exp and erf for the float32 kernels, written so that a loop calling them vectorises.
// docs/performance.md, "What each change bought", tells why.
//
// std::exp and std::erf are calls into the C library, one number at a time: GCC cannot turn a loop of
// them into vector instructions (it would need -ffast-math), and in a training step of the tiny ViT they
// were a tenth of the time (GELU's erf, attention's softmax). The two functions below are plain
// arithmetic with no branches and no calls, so `for (i...) y[i] = fast_exp(x[i])` compiles to 16 lanes
// at a time with AVX-512.
//
// Only the float overloads approximate. The double overloads are the C library's functions, exactly:
// the float64 build exists for gradient checks and for matching PyTorch to 1e-10 (tests/test_models.cpp),
// and it must compute the textbook function. Kernels call fast_exp(Scalar) and get the right one.
#include <bit>
#include <cmath>
#include <cstdint>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- e^x -----------------------------------------------------------------------------------------------
// Range reduction: write x = n ln2 + r with n = round(x / ln2), so |r| <= ln2 / 2 = 0.347, and
//     e^x = 2^n * e^r.
// 2^n is exact: n + 127 placed in a float's exponent bits. e^r is its Taylor series to r^7 / 7!; the first
// term left out, r^8 / 8! * e^r, is below 5.2e-9 * 1.42 = 7e-9, a tenth of a float's rounding unit
// (2^-24 = 6e-8), so the result is within a few units in the last place of e^x (tests/test_fast_math.cpp
// measures it). ln2 is split into a part with few significant bits (exact times n) plus a small
// correction, so that r = x - n ln2 is computed without cancellation error (Cody and Waite's trick).
// round(y) without a call: adding 1.5 * 2^23 pushes y's fraction out of the 24-bit mantissa (rounding
// it to nearest), and subtracting it back leaves round(y); the sum's low mantissa bits hold n itself.
// Domain: the scores of a softmax and the -x^2 of erf, i.e. x <= 0 in practice. Below -87.3 (e^x smaller
// than the smallest normal float) the result is exactly 0, so a -inf score gets probability exactly 0 as
// with std::exp. Above 88 the result is e^88 (e^88.73 overflows a float); NaN stays NaN.
inline float fast_exp(float x) {
    constexpr float kLog2e = 1.44269504088896341f;
    constexpr float kLn2High = 0.693359375f;      // ln 2 to 10 bits: n * kLn2High is exact for |n| < 2^14
    constexpr float kLn2Low = -2.12194440e-4f;    // ln 2 - kLn2High
    constexpr float kRoundingShift = 12582912.0f;  // 1.5 * 2^23
    constexpr float kLowest = -87.3f, kHighest = 88.0f;
    const float clamped = x < kLowest ? kLowest : (x > kHighest ? kHighest : x);
    const float shifted = clamped * kLog2e + kRoundingShift;  // n sits in the low mantissa bits
    const float n = shifted - kRoundingShift;                  // round(x / ln 2), as a float
    const float r = (clamped - n * kLn2High) - n * kLn2Low;    // |r| <= ln2 / 2
    // e^r = 1 + r + r^2/2! + ... + r^7/7!, by Horner's rule from the highest power down
    float e_r = 1.0f / 5040;
    e_r = e_r * r + 1.0f / 720;
    e_r = e_r * r + 1.0f / 120;
    e_r = e_r * r + 1.0f / 24;
    e_r = e_r * r + 1.0f / 6;
    e_r = e_r * r + 0.5f;
    e_r = e_r * r + 1.0f;
    e_r = e_r * r + 1.0f;
    // 2^n: the float with exponent field n + 127 and mantissa 0. The bits of `shifted` minus those of
    // kRoundingShift are n (two's complement); 0x4B400000 is kRoundingShift's bit pattern.
    const int32_t n_bits = std::bit_cast<int32_t>(shifted) - 0x4B400000;
    const float two_to_n = std::bit_cast<float>(static_cast<int32_t>(static_cast<uint32_t>(n_bits + 127) << 23));
    return x < kLowest ? 0.0f : e_r * two_to_n;
}

inline double fast_exp(double x) { return std::exp(x); }

// ---- erf(x) --------------------------------------------------------------------------------------------
// Abramowitz and Stegun, Handbook of Mathematical Functions, formula 7.1.26: for x >= 0,
//     erf(x) = 1 - (a1 t + a2 t^2 + a3 t^3 + a4 t^4 + a5 t^5) e^(-x^2),   t = 1 / (1 + p x),
// with an absolute error below 1.5e-7 everywhere; erf is odd, so erf(-x) = -erf(x). Computed in float,
// 1 - poly * e^(-x^2) cancels near x = 0 (both terms near 1), and the error measures 4.5e-7 at worst
// (tests/test_fast_math.cpp; up to 5.3e-7 on other grids when the compiler does not fuse multiply-adds):
// a few float rounding units of 1 + erf(x / sqrt 2), which is what GELU uses.
// fast_erf_with_exp(x, e) takes e = e^(-x^2) from the caller: GELU's backward needs that exponential for
// its density term as well, and computes it once for both.
inline float fast_erf_with_exp(float x, float exp_minus_x2) {
    constexpr float p = 0.3275911f;
    constexpr float a1 = 0.254829592f, a2 = -0.284496736f, a3 = 1.421413741f, a4 = -1.453152027f,
                    a5 = 1.061405429f;
    const float ax = std::fabs(x);
    const float t = 1.0f / (1.0f + p * ax);
    const float poly = ((((a5 * t + a4) * t + a3) * t + a2) * t + a1) * t;
    const float erf_ax = 1.0f - poly * exp_minus_x2;
    return std::copysign(erf_ax, x);
}
inline float fast_erf(float x) { return fast_erf_with_exp(x, fast_exp(-x * x)); }

inline double fast_erf_with_exp(double x, double) { return std::erf(x); }
inline double fast_erf(double x) { return std::erf(x); }

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
