// A reference solution of examples/exercises/broadcast_mul_backward.cpp, kept apart from the skeleton.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

// grad (a broadcast of shape) summed back to shape: over the leading dimensions shape lacks, then over
// every dimension where shape has size 1. matmul_backward's solution uses it too.
Tensor reduce_to(Tensor grad, const Shape& shape) {
    while (grad.dim() > static_cast<int64_t>(shape.size())) grad = sum(grad, 0);
    for (int64_t d = 0; d < grad.dim(); ++d)
        if (shape[d] == 1 && grad.size(d) != 1) grad = sum(grad, d, /*keepdim=*/true);
    return reshape(grad, shape);
}

std::pair<Tensor, Tensor> broadcast_mul_backward(const Tensor& a, const Tensor& b, const Tensor& dout) {
    return {reduce_to(dout * b, a.shape()), reduce_to(dout * a, b.shape())};
}

}  // namespace solution
