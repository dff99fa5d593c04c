#include "nn/mlp.h"

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Members are built in declaration order (fc1, fc2), so the rng stream is used in the same order as
// timm creates the layers. Linear's own check names a non-positive dim or hidden.
Mlp::Mlp(int64_t dim, int64_t hidden, Rng& rng, double dropout)
    : fc1(dim, hidden, rng), fc2(hidden, dim, rng), drop1(dropout), drop2(dropout) {
    register_module("fc1", fc1);
    register_module("drop1", drop1);
    register_module("fc2", fc2);
    register_module("drop2", drop2);
}

// x (.., C) -> (.., C); fc1 checks that the last dimension is C.
Tensor Mlp::forward(const Tensor& x, Rng& rng) const {
    Tensor h = fc1.forward(x);          // (.., Hd)
    h = kernels() == Kernels::reference ? gelu_reference(h) : gelu(h);
    h = drop1.forward(h, rng);          // (.., Hd)
    Tensor out = fc2.forward(h);        // (.., C)
    return drop2.forward(out, rng);     // (.., C)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
