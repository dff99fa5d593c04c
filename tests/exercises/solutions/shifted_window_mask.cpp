// A reference solution of examples/exercises/shifted_window_mask.cpp, kept apart from the skeleton.
// Plain loops: the region label of every token of every window, then the pairs compared.
#include <vector>

#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor shifted_window_mask(int64_t H, int64_t W, int64_t M, int64_t shift) {
    const int64_t nW = (H / M) * (W / M), N = M * M;
    const auto band = [M, shift](int64_t i, int64_t n) -> int64_t {  // timm's slices on one axis
        if (i < n - M) return 0;
        return i < n - shift ? 1 : 2;
    };
    std::vector<int64_t> label(nW * N);  // label[w * N + t]: the region of token t of window w
    for (int64_t w = 0; w < nW; ++w)
        for (int64_t t = 0; t < N; ++t) {
            const int64_t r = (w / (W / M)) * M + t / M, c = (w % (W / M)) * M + t % M;
            label[w * N + t] = 3 * band(r, H) + band(c, W);
        }
    Tensor mask = Tensor::zeros({nW, N, N});  // (nW, N, N)
    for (int64_t w = 0; w < nW; ++w)
        for (int64_t i = 0; i < N; ++i)
            for (int64_t j = 0; j < N; ++j)
                if (label[w * N + i] != label[w * N + j]) mask.data()[(w * N + i) * N + j] = -100;
    return mask;
}

}  // namespace solution
