// A reference solution of examples/exercises/crop_and_flip.cpp, kept apart from the skeleton.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor crop_and_flip(const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
    const int64_t C = image.size(0), H = image.size(1), W = image.size(2);
    Tensor out = Tensor::zeros({C, H, W});
    for (int64_t c = 0; c < C; ++c)
        for (int64_t y = 0; y < H; ++y)
            for (int64_t x = 0; x < W; ++x) {
                const int64_t sy = y + dy - P, sx = (flip ? W - 1 - x : x) + dx - P;
                if (sy >= 0 && sy < H && sx >= 0 && sx < W) out.data()[(c * H + y) * W + x] = image.data()[(c * H + sy) * W + sx];
            }
    return out;
}

}  // namespace solution
