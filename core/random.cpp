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

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
