// A reference solution of examples/exercises/gelu_backward.cpp, kept apart from the skeleton.
//   gelu'(x) = Phi(x) + x phi(x)
#include <cmath>

#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor gelu_backward(const Tensor& x, const Tensor& dout) {
    Tensor dx = Tensor::empty(x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
        const double v = x.data()[i];
        const double Phi = 0.5 * (1 + std::erf(v / std::sqrt(2.0)));
        const double phi = std::exp(-v * v / 2) / std::sqrt(2 * M_PI);
        dx.data()[i] = dout.data()[i] * (Phi + v * phi);
    }
    return dx;
}

}  // namespace solution
