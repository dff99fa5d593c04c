// softmax and log_softmax along one dimension, each a fused kernel with its own backward.
//
// Layout: a reduction along `dim` views the tensor as (outer, n, inner): outer = the product of the sizes
// before dim, n = size(dim), inner = the product after it. Element k of the row (o, i) sits at
// (o * n + k) * inner + i. The common case, dim = -1, has inner = 1: each row is contiguous.
#include <algorithm>
#include <cmath>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

struct RowLayout {
    int64_t outer, n, inner;
    int64_t rows() const { return outer * inner; }
    // The first element of row r and the distance between its elements.
    int64_t start(int64_t r) const { return (r / inner) * n * inner + r % inner; }
};

RowLayout row_layout(const Tensor& x, int64_t dim, const char* op_name) {
    check(dim >= -x.dim() && dim < x.dim(), op_name, ": dim ", dim, " is out of range for shape ", x.shape());
    const int64_t d = normalize_dim(dim, x.dim(), op_name);
    RowLayout layout{1, x.shape()[d], 1};
    for (int64_t i = 0; i < d; ++i) layout.outer *= x.shape()[i];
    for (int64_t i = d + 1; i < x.dim(); ++i) layout.inner *= x.shape()[i];
    return layout;
}

// Rows are independent; above kParallelElements (core/ops/op_helpers.h) they are shared among threads (each
// row is written by exactly one thread, so the result does not depend on the thread count).

}  // namespace

// softmax: y_k = e^(x_k - m) / sum_j e^(x_j - m),  m = max_j x_j         x -> x.shape
//   Subtracting the row maximum m changes nothing mathematically (it cancels) but keeps e^(...) <= 1, so
//   large logits cannot overflow.
//   Backward: dy_k/dx_j = y_k (delta_kj - y_j), so
//     dx_j = sum_k dy_k y_k (delta_kj - y_j) = y_j (dy_j - sum_k dy_k y_k)
//   One dot product per row: the Jacobian (n x n) is never formed.
Tensor softmax(const Tensor& x, int64_t dim) {
    const RowLayout L = row_layout(x, dim, "softmax");
    Tensor y = Tensor::empty(x.shape());
    const Scalar* in = x.data();
    Scalar* out = y.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // each iteration owns one row of y
    for (int64_t r = 0; r < L.rows(); ++r) {
        const int64_t s = L.start(r), step = L.inner;
        Scalar m = -INFINITY;
        for (int64_t k = 0; k < L.n; ++k) m = std::max(m, in[s + k * step]);
        Scalar total = 0;
        for (int64_t k = 0; k < L.n; ++k) total += out[s + k * step] = std::exp(in[s + k * step] - m);
        for (int64_t k = 0; k < L.n; ++k) out[s + k * step] /= total;
    }
    // The backward needs y, not x: it captures the output's numbers through a detached handle, which
    // shares them without owning the graph node (capturing `y` itself would be a reference cycle).
    const Tensor saved_y = y.detach();
    y.set_backward("softmax", {x}, [x, saved_y, L](const Tensor& dy) {
        Scalar* dx = x.grad_data();
        const Scalar* yv = saved_y.data();
        const Scalar* g = dy.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // each iteration owns one row of dx
        for (int64_t r = 0; r < L.rows(); ++r) {
            const int64_t s = L.start(r), step = L.inner;
            Scalar dot = 0;  // sum_k dy_k y_k
            for (int64_t k = 0; k < L.n; ++k) dot += g[s + k * step] * yv[s + k * step];
            for (int64_t k = 0; k < L.n; ++k) dx[s + k * step] += yv[s + k * step] * (g[s + k * step] - dot);
        }
    });
    return y;
}

// log_softmax: y_k = x_k - m - log sum_j e^(x_j - m)                      x -> x.shape
//   The log of softmax, computed without ever forming a softmax value that could round to 0 (log 0 = -inf).
//   Backward: dy_k/dx_j = delta_kj - softmax_j, so
//     dx_j = dy_j - softmax_j * sum_k dy_k,   softmax_j = e^(y_j)
Tensor log_softmax(const Tensor& x, int64_t dim) {
    const RowLayout L = row_layout(x, dim, "log_softmax");
    Tensor y = Tensor::empty(x.shape());
    const Scalar* in = x.data();
    Scalar* out = y.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // each iteration owns one row of y
    for (int64_t r = 0; r < L.rows(); ++r) {
        const int64_t s = L.start(r), step = L.inner;
        Scalar m = -INFINITY;
        for (int64_t k = 0; k < L.n; ++k) m = std::max(m, in[s + k * step]);
        Scalar total = 0;
        for (int64_t k = 0; k < L.n; ++k) total += std::exp(in[s + k * step] - m);
        const Scalar log_total = m + std::log(total);
        for (int64_t k = 0; k < L.n; ++k) out[s + k * step] = in[s + k * step] - log_total;
    }
    const Tensor saved_y = y.detach();
    y.set_backward("log_softmax", {x}, [x, saved_y, L](const Tensor& dy) {
        Scalar* dx = x.grad_data();
        const Scalar* yv = saved_y.data();
        const Scalar* g = dy.data();
#pragma omp parallel for if (x.numel() >= kParallelElements)  // each iteration owns one row of dx
        for (int64_t r = 0; r < L.rows(); ++r) {
            const int64_t s = L.start(r), step = L.inner;
            Scalar total = 0;  // sum_k dy_k
            for (int64_t k = 0; k < L.n; ++k) total += g[s + k * step];
            for (int64_t k = 0; k < L.n; ++k)
                dx[s + k * step] += g[s + k * step] - std::exp(yv[s + k * step]) * total;
        }
    });
    return y;
}


// ---- cross_entropy ------------------------------------------------------------------------------------
//
// Dimension legend: N rows (samples), C classes.

// cross_entropy: softmax + negative log-likelihood with label smoothing, fused   (torch.nn.CrossEntropyLoss)
//   logits (N, C)  targets (N) whole numbers in [0, C)  label_smoothing s in [0, 1]  ->  loss ()
//   The target distribution of row n:  q_c = (1 - s) [c == t_n] + s / C      (sums to 1)
//   log p_c = x_c - lse,  lse = m + log sum_j e^(x_j - m),  m = max_j x_j      (stable: e^(..) <= 1)
//   loss = (1/N) sum_n -sum_c q_c log p_c
//        = (1/N) sum_n [ lse - (1 - s) x_t - (s / C) sum_c x_c ]             (sum_c q_c = 1)
//   Backward: d lse / d x_c = p_c and d(sum_c q_c x_c) / d x_c = q_c, so
//     dlogits[n,c] += dout * (p_c - q_c) / N
//   The Jacobian of softmax never appears: its terms cancel against the log (docs/layers_math.md).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Scalar label_smoothing) {
    check_defined(logits, "cross_entropy", "logits");
    check_defined(targets, "cross_entropy", "targets");
    check(logits.dim() == 2, "cross_entropy: logits ", logits.shape(), " must be (N, C); targets are ",
          targets.shape());
    const int64_t N = logits.size(0), C = logits.size(1);
    check(targets.dim() == 1 && targets.size(0) == N, "cross_entropy: logits ", logits.shape(),
          " need targets of shape (", N, ",), got ", targets.shape());
    check(N > 0 && C > 0, "cross_entropy: logits ", logits.shape(), " must have at least one row and one class");
    check(label_smoothing >= 0 && label_smoothing <= 1, "cross_entropy: label_smoothing ", label_smoothing,
          " must be in [0, 1] (logits ", logits.shape(), ")");
    const Scalar* t = targets.data();
    for (int64_t n = 0; n < N; ++n)
        check(t[n] == std::floor(t[n]) && t[n] >= 0 && t[n] < C, "cross_entropy: target ", t[n], " at row ", n,
              " is not a whole number in 0 .. ", C - 1, " (logits ", logits.shape(), ", targets ",
              targets.shape(), ")");

    const Scalar s = label_smoothing;
    const Scalar* x = logits.data();
    Tensor lse = Tensor::empty({N});      // (N) log sum_j e^(x_j), saved for the backward
    Tensor row_loss = Tensor::empty({N}); // (N)
    Scalar* pl = lse.data();
    Scalar* pr = row_loss.data();
#pragma omp parallel for if (logits.numel() >= kParallelElements)  // iteration n owns lse[n], row_loss[n]
    for (int64_t n = 0; n < N; ++n) {
        const Scalar* row = x + n * C;
        Scalar m = -INFINITY;
        for (int64_t c = 0; c < C; ++c) m = std::max(m, row[c]);
        Scalar total = 0, row_sum = 0;
        for (int64_t c = 0; c < C; ++c) {
            total += std::exp(row[c] - m);
            row_sum += row[c];
        }
        pl[n] = m + std::log(total);
        const int64_t target = static_cast<int64_t>(t[n]);
        pr[n] = pl[n] - (1 - s) * row[target] - s / C * row_sum;
    }
    Scalar loss = 0;  // the mean over rows, summed serially in row order: independent of the thread count
    for (int64_t n = 0; n < N; ++n) loss += pr[n];
    Tensor out = Tensor::scalar(loss / N);

    // targets get no gradient (they are class numbers), so only logits is an input of the graph.
    out.set_backward("cross_entropy", {logits}, [logits, targets, lse, s, N, C](const Tensor& dout) {
        if (!logits.requires_grad()) return;
        const Scalar scale = dout.item() / N;
        const Scalar* x = logits.data();
        const Scalar* t = targets.data();
        const Scalar* pl = lse.data();
        Scalar* dx = logits.grad_data();
#pragma omp parallel for if (logits.numel() >= kParallelElements)  // iteration n owns row n of dx
        for (int64_t n = 0; n < N; ++n) {
            const int64_t target = static_cast<int64_t>(t[n]);
            for (int64_t c = 0; c < C; ++c) {
                const Scalar p = std::exp(x[n * C + c] - pl[n]);
                const Scalar q = (c == target ? 1 - s : 0) + s / C;
                dx[n * C + c] += scale * (p - q);
            }
        }
    });
    return out;
}

// ---- the textbook twins: the same math from primitive ops (tests/test_reference_ops.cpp) ----------------

// softmax_reference: e^(x - m) / sum e^(x - m) along dim, m the maximum. m is detached: softmax does not
// depend on it (it cancels), so no gradient needs to flow through it.
Tensor softmax_reference(const Tensor& x, int64_t dim) {
    const Tensor shifted = x - max(x.detach(), dim, /*keepdim=*/true);
    const Tensor e = exp(shifted);
    return e / sum(e, dim, /*keepdim=*/true);
}

// log_softmax_reference: (x - m) - log sum e^(x - m) along dim.
Tensor log_softmax_reference(const Tensor& x, int64_t dim) {
    const Tensor shifted = x - max(x.detach(), dim, /*keepdim=*/true);
    return shifted - log(sum(exp(shifted), dim, /*keepdim=*/true));
}

// cross_entropy_reference: -mean_n sum_c q[n, c] log softmax(logits[n])_c with the smoothed target
//   q = (1 - s) onehot(targets) + s / C, built as a constant (N, C) tensor.
Tensor cross_entropy_reference(const Tensor& logits, const Tensor& targets, Scalar label_smoothing) {
    check(logits.dim() == 2 && targets.dim() == 1 && targets.size(0) == logits.size(0), "cross_entropy_reference: ",
          "logits ", logits.shape(), " must be (N, C) and targets ", targets.shape(), " (N)");
    const int64_t N = logits.size(0), C = logits.size(1);
    Tensor q = Tensor::full({N, C}, label_smoothing / static_cast<Scalar>(C));  // (N, C)
    for (int64_t n = 0; n < N; ++n) {
        const Scalar t = targets.data()[n];
        check(t >= 0 && t < static_cast<Scalar>(C) && t == std::floor(t), "cross_entropy_reference: target ", t,
              " of row ", n, " is not a class number in [0, ", C, ")");
        q.data()[n * C + static_cast<int64_t>(t)] += 1 - label_smoothing;
    }
    return -mean(sum(q * log_softmax_reference(logits, -1), -1));
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
