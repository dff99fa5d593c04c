// A reference solution of examples/exercises/relative_position_index.cpp, kept apart from the skeleton.
//   index[i][j] = (yi - yj + M - 1) * (2M - 1) + (xi - xj + M - 1)
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor relative_position_index(int64_t M) {
    const int64_t N = M * M;
    Tensor index = Tensor::empty({N, N});  // (N, N)
    for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < N; ++j) {
            const int64_t dy = i / M - j / M, dx = i % M - j % M;  // each in -(M-1) .. M-1
            index.data()[i * N + j] = static_cast<double>((dy + M - 1) * (2 * M - 1) + (dx + M - 1));
        }
    return index;
}

}  // namespace solution
