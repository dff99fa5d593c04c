// A reference solution of examples/exercises/softmax_backward.cpp, kept apart from the skeleton.
//   dy_i/dx_j = y_i (delta_ij - y_j)   =>   dx_j = sum_i dy_i y_i (delta_ij - y_j) = y_j (dy_j - sum_i dy_i y_i)
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor softmax_backward(const Tensor& y, const Tensor& dy) {
    return y * (dy - sum(dy * y, -1, /*keepdim=*/true));  // (.., C) * ((.., C) - (.., 1))
}

}  // namespace solution
