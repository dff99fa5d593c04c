// layer_norm: normalise each row (the last dimension) to mean 0 and variance 1, then scale and shift.
// A fused kernel: one pass per row forward, one per row backward, and the backward written by hand.
// docs/layers_math.md derives the backward step by step.
//
// Dimension legend: R rows (every leading dimension flattened, e.g. B*T), C channels (the last dimension,
// the one normalised). Row r is the contiguous run x[r*C .. r*C + C).
#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad::inline PATCHGRAD_FLAVOUR {

// layer_norm over the last dimension                                  (torch.nn.functional.layer_norm)
//   x (.., C)  weight (C)  bias (C)  ->  out (.., C);   R = numel(x) / C
//   Forward, per row r (the biased variance divides by C, as PyTorch does):
//     mean = (1/C) sum_k x_k        var = (1/C) sum_k (x_k - mean)^2        rstd = 1 / sqrt(var + eps)
//     xhat_k = (x_k - mean) * rstd                                          (R, C)
//     out_k  = xhat_k * weight_k + bias_k                                   (R, C)
//   It saves mean (R) and rstd (R); the backward recomputes xhat from them rather than storing (R, C).
//
//   Backward. weight and bias are shared by every row, so their gradients sum over rows:
//     dweight_k += sum_r dout[r,k] * xhat[r,k]          dbias_k += sum_r dout[r,k]
//   For x, go through xhat. Let dxhat_k = dout_k * weight_k (d out_k / d xhat_k = weight_k). Every xhat_j
//   depends on every x_k of its row, through x_j itself, through mean, and through rstd:
//     d mean / d x_k = 1/C
//     d var  / d x_k = (2/C) sum_j (x_j - mean) (delta_jk - 1/C) = (2/C) (x_k - mean)
//                      (the 1/C part vanishes: sum_j (x_j - mean) = 0)
//     d rstd / d x_k = -1/2 (var + eps)^(-3/2) * d var / d x_k = -rstd^3 (x_k - mean) / C = -rstd^2 xhat_k / C
//     d xhat_j / d x_k = (delta_jk - 1/C) rstd + (x_j - mean) * d rstd / d x_k
//                      = rstd (delta_jk - 1/C - xhat_j xhat_k / C)
//   so
//     dx_k = sum_j dxhat_j d xhat_j / d x_k = rstd (dxhat_k - mean_j(dxhat_j) - xhat_k mean_j(dxhat_j xhat_j))
//   The first mean term comes from subtracting the mean, the second from dividing by the standard
//   deviation. Two dot products per row: the (C x C) Jacobian is never formed.
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Scalar eps) {
    check_defined(x, "layer_norm", "x");
    check_defined(weight, "layer_norm", "weight");
    check_defined(bias, "layer_norm", "bias");
    check(x.dim() >= 1 && x.size(-1) > 0, "layer_norm: x ", x.shape(), " needs a last dimension of size >= 1");
    const int64_t C = x.size(-1);
    check(weight.dim() == 1 && weight.size(0) == C && bias.dim() == 1 && bias.size(0) == C, "layer_norm: x ",
          x.shape(), " has ", C, " channels, so weight and bias must be (", C, ",), got weight ", weight.shape(),
          " and bias ", bias.shape());
    check(eps >= 0, "layer_norm: eps ", eps, " must be >= 0 (x ", x.shape(), ")");
    const int64_t R = x.numel() / C;

    Tensor out = Tensor::empty(x.shape());  // (R, C)
    Tensor mean = Tensor::empty({R});       // (R)
    Tensor rstd = Tensor::empty({R});       // (R)
    const Scalar* px = x.data();
    const Scalar* pw = weight.data();
    const Scalar* pb = bias.data();
    Scalar* po = out.data();
    Scalar* pm = mean.data();
    Scalar* ps = rstd.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // iteration r owns row r of out, mean[r], rstd[r]
    for (int64_t r = 0; r < R; ++r) {
        const Scalar* row = px + r * C;
        Scalar total = 0;
        for (int64_t k = 0; k < C; ++k) total += row[k];
        const Scalar m = total / C;
        Scalar squares = 0;  // two passes (mean first), not E[x^2] - E[x]^2, which cancels badly
        for (int64_t k = 0; k < C; ++k) squares += (row[k] - m) * (row[k] - m);
        const Scalar s = 1 / std::sqrt(squares / C + eps);
        for (int64_t k = 0; k < C; ++k) po[r * C + k] = (row[k] - m) * s * pw[k] + pb[k];
        pm[r] = m;
        ps[r] = s;
    }

    out.set_backward("layer_norm", {x, weight, bias}, [x, weight, bias, mean, rstd, R, C](const Tensor& dout) {
        const Scalar* px = x.data();
        const Scalar* pw = weight.data();
        const Scalar* g = dout.data();  // (R, C)
        const Scalar* pm = mean.data();
        const Scalar* ps = rstd.data();
        if (x.requires_grad()) {
            const Tensor::GradBuffer dx_buffer = x.grad_buffer();  // fresh: written, not added to
            Scalar* dx = dx_buffer.data;
            const bool accumulate = dx_buffer.accumulate;
#pragma omp parallel for if (x.numel() >= kParallelElements)  // iteration r owns row r of dx
            for (int64_t r = 0; r < R; ++r) {
                const Scalar* row = px + r * C;
                const Scalar* grow = g + r * C;
                Scalar sum_dxhat = 0, sum_dxhat_xhat = 0;
                for (int64_t k = 0; k < C; ++k) {
                    const Scalar xhat = (row[k] - pm[r]) * ps[r];
                    const Scalar dxhat = grow[k] * pw[k];
                    sum_dxhat += dxhat;
                    sum_dxhat_xhat += dxhat * xhat;
                }
                const Scalar mean_dxhat = sum_dxhat / C, mean_dxhat_xhat = sum_dxhat_xhat / C;
                for (int64_t k = 0; k < C; ++k) {
                    const Scalar xhat = (row[k] - pm[r]) * ps[r];
                    const Scalar dxhat = grow[k] * pw[k];
                    const Scalar d = ps[r] * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
                    dx[r * C + k] = accumulate ? dx[r * C + k] + d : d;
                }
            }
        }
        if (weight.requires_grad() || bias.requires_grad()) {
            // Sums over rows. Threads split the channels into blocks: iteration `block` owns dweight and
            // dbias at [block, block + kColumns) and walks the rows in order 0, 1, .., R-1, so every sum has
            // the same order whatever the number of threads.
            constexpr int64_t kColumns = 64;
            Scalar* dw = weight.requires_grad() ? weight.grad_data() : nullptr;
            Scalar* db = bias.requires_grad() ? bias.grad_data() : nullptr;
#pragma omp parallel for if (x.numel() >= kParallelElements)  // iteration owns dw, db at [block, block+kColumns)
            for (int64_t block = 0; block < C; block += kColumns) {
                const int64_t end = std::min(block + kColumns, C);
                for (int64_t r = 0; r < R; ++r) {
                    for (int64_t k = block; k < end; ++k) {
                        const Scalar gk = g[r * C + k];
                        if (dw) dw[k] += gk * (px[r * C + k] - pm[r]) * ps[r];
                        if (db) db[k] += gk;
                    }
                }
            }
        }
    });
    return out;
}

}  // namespace patchgrad::inline PATCHGRAD_FLAVOUR
