// layer_norm: normalise each row (the last dimension) to mean 0 and variance 1, then scale and shift.
// A fused kernel: one pass per row forward, one per row backward, and the backward written by hand.
// docs/layers_math.md derives the backward step by step.
//
// Dimension legend: R rows (every leading dimension flattened, e.g. B*T), C channels (the last dimension,
// the one normalised). Row r is the contiguous run x[r*C .. r*C + C).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

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
        const Scalar m = lane_sum(C, [row](int64_t k) { return row[k]; }) / C;
        // two passes (mean first), not E[x^2] - E[x]^2, which cancels badly
        const Scalar squares = lane_sum(C, [row, m](int64_t k) { return (row[k] - m) * (row[k] - m); });
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
        const bool want_dx = x.requires_grad();
        const GradAccumulator dx = want_dx ? x.grad_accumulator() : GradAccumulator(nullptr, false);
        const bool param_grads = weight.requires_grad() || bias.requires_grad();

        // One pass over the rows does both jobs: dx, row by row, and dweight and dbias, which sum over
        // rows. The rows are cut into fixed chunks of kChunkRows; each chunk sums its rows in order into
        // its own partial (chunk_sums: dweight's C numbers, then dbias's), and the partials are added
        // afterwards in chunk order. Threads take whole chunks, so every sum has the same order (and the
        // same rounding) whatever the number of threads, and each row of dout and x is read once.
        constexpr int64_t kChunkRows = 64;
        const int64_t chunks = (R + kChunkRows - 1) / kChunkRows;
        std::vector<Scalar> chunk_sums(param_grads ? size_t(chunks * 2 * C) : 0, Scalar(0));  // (chunks, 2C)
        Scalar* partial = chunk_sums.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // iteration owns its chunk's rows of dx and partial
        for (int64_t chunk = 0; chunk < chunks; ++chunk) {
            for (int64_t r = chunk * kChunkRows; r < std::min(R, (chunk + 1) * kChunkRows); ++r) {
                const Scalar* row = px + r * C;
                const Scalar* grow = g + r * C;
                const Scalar m = pm[r], s = ps[r];
                if (want_dx) {
                    const Scalar mean_dxhat = lane_sum(C, [grow, pw](int64_t k) { return grow[k] * pw[k]; }) / C;
                    const Scalar mean_dxhat_xhat =
                        lane_sum(C, [grow, pw, row, m, s](int64_t k) { return grow[k] * pw[k] * ((row[k] - m) * s); }) /
                        C;
                    for (int64_t k = 0; k < C; ++k) {
                        const Scalar xhat = (row[k] - m) * s;
                        const Scalar dxhat = grow[k] * pw[k];
                        dx[r * C + k] += s * (dxhat - mean_dxhat - xhat * mean_dxhat_xhat);
                    }
                }
                if (param_grads) {
                    Scalar* dw_part = partial + chunk * 2 * C;  // (C)
                    Scalar* db_part = dw_part + C;              // (C)
                    for (int64_t k = 0; k < C; ++k) {
                        dw_part[k] += grow[k] * ((row[k] - m) * s);
                        db_part[k] += grow[k];
                    }
                }
            }
        }
        if (weight.requires_grad()) {  // dweight_k += sum over chunks, in chunk order
            Scalar* dw = weight.grad_data();
            for (int64_t chunk = 0; chunk < chunks; ++chunk)
                for (int64_t k = 0; k < C; ++k) dw[k] += partial[chunk * 2 * C + k];
        }
        if (bias.requires_grad()) {  // dbias_k likewise
            Scalar* db = bias.grad_data();
            for (int64_t chunk = 0; chunk < chunks; ++chunk)
                for (int64_t k = 0; k < C; ++k) db[k] += partial[chunk * 2 * C + C + k];
        }
    });
    return out;
}

// layer_norm_reference: layer_norm's textbook twin, the definition from primitive ops.
//   x (.., C)  weight (C)  bias (C)  ->  x.shape
Tensor layer_norm_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, Scalar eps) {
    const Tensor centred = x - mean(x, -1, /*keepdim=*/true);                  // x - mean
    const Tensor variance = mean(centred * centred, -1, /*keepdim=*/true);     // biased: / C
    const Tensor xhat = centred / sqrt(variance + eps);
    return xhat * weight + bias;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
