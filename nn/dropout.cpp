#include "nn/dropout.h"

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

Dropout::Dropout(double p) : p_(p) {
    // p = 1 would drop everything and divide by zero; a NaN fails both comparisons.
    check(p >= 0.0 && p < 1.0, "Dropout: p ", p, " must satisfy 0 <= p < 1");
}

// x (any) -> x.shape
Tensor Dropout::forward(const Tensor& x, Rng& rng) const {
    check(x.defined(), "Dropout: the input is an undefined tensor");
    if (!is_training() || p_ == 0.0) return x;                      // identity: no draws, no graph node
    const Scalar keep_scale = static_cast<Scalar>(1.0 / (1.0 - p_));
    Tensor mask = Tensor::empty(x.shape());                          // x.shape: 0 or 1/(1-p)
    Scalar* m = mask.data();
    for (int64_t i = 0; i < mask.numel(); ++i)                       // serial: one rng stream, one order
        m[i] = rng.uniform() >= p_ ? keep_scale : Scalar(0);         // kept with probability 1 - p
    return x * mask;                                                 // x.shape; dx = dout * mask
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
