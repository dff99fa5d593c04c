// Activations: relu, sigmoid, tanh, gelu. Each is pointwise, x -> x.shape, with the backward
// dx += dout * f'(x). docs/ops_elementwise.md derives each derivative.
#include <cmath>
#include <numbers>

#include "core/ops.h"
#include "core/ops/fast_math.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// relu: out = max(x, 0)                                                    (torch.relu)
//   d/dx = 1 for x > 0, else 0. At exactly x = 0 the function has a kink and no derivative; like PyTorch
//   we use 0 there. (x < 0 ? 0 : x rather than max: a nan input stays nan instead of turning into 0.)
Tensor relu(const Tensor& x) {
    return unary_op(
        x, "relu", [](Scalar v) { return v < 0 ? Scalar(0) : v; },
        [](Scalar v, Scalar) { return v > 0 ? Scalar(1) : Scalar(0); });
}

// sigmoid: s = 1 / (1 + e^-x)                                              (torch.sigmoid)
//   Safe as written: for very negative x, e^-x overflows to inf and 1 / (1 + inf) = 0, the right limit,
//   so sigmoid(-1000) is 0, not nan.
//   d/dx s = e^-x / (1 + e^-x)^2 = s (1 - s)
Tensor sigmoid(const Tensor& x) {
    return unary_op(
        x, "sigmoid", [](Scalar v) { return 1 / (1 + std::exp(-v)); }, [](Scalar, Scalar s) { return s * (1 - s); });
}

// tanh: t = (e^x - e^-x) / (e^x + e^-x)                                   (torch.tanh)
//   d/dx t = 1 - t^2
Tensor tanh(const Tensor& x) {
    return unary_op(x, "tanh", [](Scalar v) { return std::tanh(v); }, [](Scalar, Scalar t) { return 1 - t * t; });
}

// gelu: out = x Phi(x) = 0.5 x (1 + erf(x / sqrt 2)), the exact form       (torch.nn.functional.gelu)
//   Phi is the standard normal CDF, phi = Phi' its density: phi(x) = e^(-x^2/2) / sqrt(2 pi).
//   d/dx x Phi(x) = Phi(x) + x phi(x)                                        (product rule)
//   (GPT-2 used the tanh approximation; ViT and Swin use this exact form, as does PyTorch by default.)
//   fast_erf and fast_exp (fast_math.h): the C library's erf and exp in the float64 build; in float32, a
//   branch-free formula within 5e-7 of erf, so that the loop vectorises.
Tensor gelu(const Tensor& x) {
    const Scalar inv_sqrt2 = 1 / std::numbers::sqrt2_v<Scalar>;
    const Scalar inv_sqrt_2pi = std::numbers::inv_sqrtpi_v<Scalar> * inv_sqrt2;  // 1/sqrt(pi) * 1/sqrt(2)
    return unary_op(
        x, "gelu", [inv_sqrt2](Scalar v) { return Scalar(0.5) * v * (1 + fast_erf(v * inv_sqrt2)); },
        [inv_sqrt2, inv_sqrt_2pi](Scalar v, Scalar) {
            // one exponential for both terms: e^(-v^2/2) is phi's and also erf(v / sqrt 2)'s e^(-(v/sqrt 2)^2)
            const Scalar e = fast_exp(Scalar(-0.5) * v * v);
            const Scalar cdf = Scalar(0.5) * (1 + fast_erf_with_exp(v * inv_sqrt2, e));
            const Scalar pdf = inv_sqrt_2pi * e;
            return cdf + v * pdf;
        });
}

// gelu_reference: gelu's textbook twin, the formula itself from primitive ops, each with its own backward:
//   0.5 * x * (1 + erf(x / sqrt 2))
// The fused gelu above computes the same in one pass, forward and backward (tests/test_reference_ops.cpp).
Tensor gelu_reference(const Tensor& x) {
    return Scalar(0.5) * x * (1 + erf(x * (1 / std::numbers::sqrt2_v<Scalar>)));
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
