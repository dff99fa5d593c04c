// A reference solution of examples/exercises/convolution.cpp, kept apart from the skeleton.
// docs/convolution.md, section 6: pad, one strided slice per kernel offset, stack, permute; then one product.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor convolution(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s, int64_t p) {
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    const int64_t Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    Tensor padded = images;                                                          // (B, C, H, W)
    if (p > 0) {
        const Tensor rows = Tensor::zeros({B, C, p, W});
        padded = concat({rows, padded, rows}, 2);                                    // (B, C, H+2p, W)
        const Tensor columns = Tensor::zeros({B, C, H + 2 * p, p});
        padded = concat({columns, padded, columns}, 3);                              // (B, C, H+2p, W+2p)
    }
    std::vector<Tensor> offsets;                                                     // k*k of (B, C, Ho, Wo)
    for (int64_t u = 0; u < k; ++u)
        for (int64_t v = 0; v < k; ++v) {
            const Tensor rows = slice(padded, 2, u, u + (Ho - 1) * s + 1, s);       // rows u, u+s, ...
            offsets.push_back(slice(rows, 3, v, v + (Wo - 1) * s + 1, s));          // columns v, v+s, ...
        }
    const Tensor stacked = stack(offsets, 2);                                        // (b, c, (u,v), i, j)
    const Tensor windows = reshape(permute(stacked, {0, 3, 4, 1, 2}), {B, Ho * Wo, C * k * k});
    return matmul(windows, transpose(weight, 0, 1)) + bias;                          // (B, Ho*Wo, E)
}

}  // namespace solution
