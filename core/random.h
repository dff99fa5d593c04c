#pragma once
// Rng: the only source of randomness in patchgrad (weight init, dropout, shuffling, augmentation, mixing).
//
// xoshiro256** (Blackman and Vigna, 2018): 256 bits of state, fast, and far better than std::rand. It is
// passed explicitly (`Rng&`) to whatever needs randomness, so a run is reproduced by its seed, and the
// state can be saved in a checkpoint and restored to continue the exact same stream.
#include <array>
#include <cstdint>

#include "scalar.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

class Rng {
public:
    explicit Rng(uint64_t seed = 0);

    uint64_t next_u64();                        // 64 random bits
    double uniform();                           // [0, 1), 53 random bits
    double uniform(double low, double high);    // [low, high)
    double normal();                            // standard normal, Box-Muller
    int64_t randint(int64_t n);                 // 0 .. n-1, unbiased
    double gamma(double shape);                 // Gamma(shape, 1), shape > 0: Marsaglia-Tsang, mean = var = shape
    double beta(double a, double b);            // Beta(a, b), a, b > 0: X / (X + Y), X ~ Gamma(a), Y ~ Gamma(b)

    using State = std::array<uint64_t, 4>;
    State state() const { return state_; }
    void set_state(const State& state) { state_ = state; }

private:
    State state_;
};

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
