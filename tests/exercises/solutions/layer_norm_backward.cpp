// A reference solution of examples/exercises/layer_norm_backward.cpp, kept apart from the skeleton.
// Loops over rows, as docs/layers_math.md, section 2, derives it.
#include <cmath>

#include "tests/exercises/solutions/solutions.h"

namespace solution {

LayerNormGradients layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& dout, double eps) {
    const int64_t C = x.size(-1), R = x.numel() / C;
    LayerNormGradients g{Tensor::zeros(x.shape()), Tensor::zeros({C}), Tensor::zeros({C})};
    std::vector<double> xhat(C), dxhat(C);
    for (int64_t r = 0; r < R; ++r) {
        const double* xr = x.data() + r * C;
        const double* dr = dout.data() + r * C;
        double mean = 0, var = 0;
        for (int64_t k = 0; k < C; ++k) mean += xr[k] / C;
        for (int64_t k = 0; k < C; ++k) var += (xr[k] - mean) * (xr[k] - mean) / C;
        const double rstd = 1 / std::sqrt(var + eps);
        double mean_dxhat = 0, mean_dxhat_xhat = 0;
        for (int64_t k = 0; k < C; ++k) {
            xhat[k] = (xr[k] - mean) * rstd;
            dxhat[k] = dr[k] * weight.data()[k];
            mean_dxhat += dxhat[k] / C;
            mean_dxhat_xhat += dxhat[k] * xhat[k] / C;
            g.dweight.data()[k] += dr[k] * xhat[k];
            g.dbias.data()[k] += dr[k];
        }
        for (int64_t k = 0; k < C; ++k)
            g.dx.data()[r * C + k] = rstd * (dxhat[k] - mean_dxhat - xhat[k] * mean_dxhat_xhat);
    }
    return g;
}

}  // namespace solution
