// A reference solution of examples/exercises/cross_entropy_backward.cpp, kept apart from the skeleton.
//   one row's loss = lse(x) - sum_c q_c x_c  =>  d/dx_c = p_c - q_c; the mean over rows divides by N
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor cross_entropy_backward(const Tensor& logits, const Tensor& targets, double smoothing) {
    const int64_t N = logits.size(0), C = logits.size(1);
    Tensor dlogits = softmax(logits, -1);  // p (N, C)
    for (int64_t n = 0; n < N; ++n) {
        const int64_t target = static_cast<int64_t>(targets.data()[n]);
        for (int64_t c = 0; c < C; ++c) {
            const double q = (1 - smoothing) * (c == target) + smoothing / C;
            dlogits.data()[n * C + c] = (dlogits.data()[n * C + c] - q) / N;
        }
    }
    return dlogits;
}

}  // namespace solution
