#include "random.h"

#include <cmath>

#include "check.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// splitmix64 spreads a small seed (0, 1, 2, ...) over the 256-bit state, so nearby seeds give unrelated
// streams and the state is never all zero (the one state xoshiro cannot leave).
static uint64_t splitmix64(uint64_t& x) {
    uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

Rng::Rng(uint64_t seed) {
    for (uint64_t& word : state_) word = splitmix64(seed);
}

uint64_t Rng::next_u64() {
    uint64_t* s = state_.data();
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

// The top 53 bits fill a double's mantissa exactly: k / 2^53 for k in [0, 2^53).
double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::uniform(double low, double high) { return low + (high - low) * uniform(); }

// Box-Muller: for u1, u2 uniform in (0, 1], sqrt(-2 ln u1) cos(2 pi u2) is standard normal. The twin
// value (with sin) is dropped, so the state stays four words and every call draws exactly two uniforms.
double Rng::normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log(0) cannot happen
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

// Rejection sampling: draws landing in the incomplete last copy of [0, n) are redrawn, so no value is
// more likely than another (plain `next_u64() % n` would favour small values).
int64_t Rng::randint(int64_t n) {
    check(n > 0, "Rng::randint: n must be positive, got ", n);
    const uint64_t range = static_cast<uint64_t>(n);
    const uint64_t limit = UINT64_MAX - UINT64_MAX % range;
    uint64_t draw;
    do draw = next_u64();
    while (draw >= limit);
    return static_cast<int64_t>(draw % range);
}

// Gamma(k, 1) by Marsaglia and Tsang (2000), "A simple method for generating gamma variables". For k >= 1:
//   d = k - 1/3,  c = 1 / sqrt(9 d);  x ~ N(0, 1),  v = (1 + c x)^3
//   accept d v when v > 0 and log u < x^2 / 2 + d - d v + d log v   (u uniform in (0, 1]), else try again.
// d v is then exactly Gamma(k)-distributed; at most a few percent of tries are rejected. For k < 1 the same
// paper's boost: Gamma(k) = Gamma(k + 1) * u^(1/k). Draws: per try one normal() (two uniforms) and, when
// v > 0, one uniform; for k < 1 one more uniform at the end. The count varies, so callers that promise a
// fixed draw order call it only where a variable count is documented.
double Rng::gamma(double shape) {
    check(shape > 0, "Rng::gamma: shape must be positive, got ", shape);
    if (shape < 1) {
        const double boosted = gamma(shape + 1);
        const double u = 1.0 - uniform();  // (0, 1]
        return boosted * std::pow(u, 1.0 / shape);
    }
    const double d = shape - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    while (true) {
        const double x = normal();
        const double t = 1.0 + c * x;
        if (t <= 0) continue;  // v = t^3 <= 0 has no logarithm: reject
        const double v = t * t * t;
        const double u = 1.0 - uniform();  // (0, 1]
        if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
    }
}

// Beta(a, b) from two gammas: if X ~ Gamma(a) and Y ~ Gamma(b) are independent, X / (X + Y) ~ Beta(a, b).
// Draws: gamma(a), then gamma(b). With tiny shapes both can underflow to 0, and 0 / 0 is no number: then
// the pair is drawn again (this needs shapes far below the 0.1 to 1 that mixup and CutMix use).
double Rng::beta(double a, double b) {
    check(a > 0 && b > 0, "Rng::beta: shapes must be positive, got ", a, " and ", b);
    while (true) {
        const double x = gamma(a);
        const double y = gamma(b);
        if (x + y > 0) return x / (x + y);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
