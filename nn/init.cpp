#include "nn/init.h"

#include <cmath>

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Rejection sampling: draw z ~ normal(0, 1) until |z| <= 2, then scale by std. About 95.4% of draws are
// kept, so on average a value costs 1.05 draws. The number of draws depends only on the rng stream, so a
// seed reproduces the same tensor.
Tensor trunc_normal(const Shape& shape, double std, Rng& rng) {
    check(std > 0 && std::isfinite(std), "trunc_normal: std must be positive and finite, got ", std,
          " (for shape ", shape, ")");
    Tensor out = Tensor::empty(shape);
    Scalar* o = out.data();
    for (int64_t i = 0; i < out.numel(); ++i) {
        double z = rng.normal();
        while (std::abs(z) > 2.0) z = rng.normal();
        o[i] = static_cast<Scalar>(std * z);
    }
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
