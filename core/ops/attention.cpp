// scaled_dot_product_attention: softmax(q k^T * scale + bias) v, one fused kernel with a hand-written
// backward.                                                                 docs/attention.md tells the story.
//
// Legend:
//   B   batch (for Swin: images * windows)        H   heads
//   T   tokens (65 for the tiny ViT, 16 for a 4 x 4 Swin window)       D   head size
//   S   the scores (T, T) of one (b, h) pair;  P = softmax(S) row-wise, the attention probabilities
//
// Why fused: built from primitives, attention is matmul, mul, add, softmax, matmul, and four of those
// steps write a (B, H, T, T) tensor that the backward keeps or reads (plus as many gradients). Here each
// (b, h) pair is worked through from q to out in one go, while its (T, T) scores sit in L1/L2, and only
// P is kept for the backward: B*H*T*T numbers, 2.2M floats (8.7 MB) per ViT block at B = 128, H = 4,
// T = 65. That is the memory cost of attention, quadratic in T. (FlashAttention goes further and keeps
// not even P, recomputing it in the backward; at T = 65 the saving is not worth the recomputation.) In
// inference (NoGradGuard, or no input requiring grad, and no `weights` asked for) P is not kept at all:
// each pair's (T, T) goes to a per-thread scratch.
//
// Parallelism: the B*H pairs are independent. Each OpenMP iteration owns one pair: its slice of out and
// of P in the forward, its slices of dq, dk, dv in the backward. Inside a pair every sum runs in a fixed
// order, so the results do not depend on the number of threads. The small per-pair products are gemm
// calls, which run serially inside the parallel region (core/gemm.h); plain loops in vectorising order
// measured about 2x slower for the ViT (docs/attention.md, section 8).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/gemm.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad::inline PATCHGRAD_FLAVOUR {

namespace {

constexpr const char* kOp = "scaled_dot_product_attention";

// How bias, a shape that broadcasts to (B, H, T, T), is read: element (b, h, i, j) of the broadcast
// bias sits at  b * sb + h * sh + i * si + j * sj,  with a stride of 0 along every dimension where bias
// has size 1 or lacks the dimension. Example: a (1, H, T, T) relative position bias has strides
// (0, T*T, T, 1); a (T, T) bias (0, 0, T, 1).
struct BiasLayout {
    bool defined = false;
    Shape shape4;                          // bias's shape padded on the left with 1s to rank 4
    int64_t sb = 0, sh = 0, si = 0, sj = 0;
    bool broadcast = false;                // some dimension was stretched: dbias must be summed
};

BiasLayout bias_layout(const Tensor& bias, const Tensor& q) {
    BiasLayout layout;
    if (!bias.defined()) return layout;
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2);
    const Shape scores{B, H, T, T};
    const Shape& shape = bias.shape();
    const int64_t rank = bias.dim();
    bool fits = rank <= 4;
    for (int64_t d = 0; fits && d < rank; ++d) {
        const int64_t size = shape[rank - 1 - d], target = scores[3 - d];
        fits = size == target || size == 1;
    }
    check(fits, kOp, ": bias ", shape, " does not broadcast to the scores' shape (B, H, T, T) = ", scores,
          " of q ", q.shape(), " (each bias size must equal the scores' size or be 1, aligned on the right)");
    layout.defined = true;
    layout.shape4 = Shape(4 - rank, 1);
    layout.shape4.insert(layout.shape4.end(), shape.begin(), shape.end());
    // Row-major strides of the padded shape, 0 where the size is 1: every index of the scores along that
    // dimension then reads the bias's one element (this is what broadcasting means).
    int64_t strides[4], stride = 1;
    for (int d = 3; d >= 0; --d) {
        strides[d] = layout.shape4[d] == 1 ? 0 : stride;
        stride *= layout.shape4[d];
        layout.broadcast = layout.broadcast || layout.shape4[d] != scores[d];
    }
    layout.sb = strides[0], layout.sh = strides[1], layout.si = strides[2], layout.sj = strides[3];
    return layout;
}

// A grow-only scratch array per thread: allocated on a thread's first call, reused by every later call,
// so the hot loop allocates nothing. Each OpenMP thread gets its own (thread_local).
Scalar* thread_scratch(int64_t n) {
    thread_local std::vector<Scalar> buffer;
    if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

// max_j s[j], over 16 running maxima side by side so that the loop vectorises: a single running maximum
// is a chain where each comparison waits for the previous one, and it measured as a third of the
// forward's own time. The maximum is exact, so the grouping does not change the result.
Scalar row_max(const Scalar* s, int64_t n) {
    constexpr int64_t kLanes = 16;
    Scalar lanes[kLanes];
    for (int64_t l = 0; l < kLanes; ++l) lanes[l] = -std::numeric_limits<Scalar>::infinity();
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
        for (int64_t l = 0; l < kLanes; ++l) lanes[l] = std::max(lanes[l], s[j + l]);
    Scalar m = -std::numeric_limits<Scalar>::infinity();
    for (; j < n; ++j) m = std::max(m, s[j]);
    for (int64_t l = 0; l < kLanes; ++l) m = std::max(m, lanes[l]);
    return m;
}

// ---- forward of one (b, h) pair ------------------------------------------------------------------------
//   Q, K, V (T, D)   bias: the pair's bias (element (i, j) at i * si + j * sj), or null
//   writes P (T, T), the probabilities, and O (T, D)
// The two products are gemm calls; from inside the parallel region over pairs, gemm runs serially.
// Returns -1, or the first row whose largest score is not finite (every score -inf, i.e. fully masked).
int64_t forward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, const Scalar* bias, int64_t si, int64_t sj,
                     Scalar scale, int64_t T, int64_t D, Scalar* P, Scalar* O) {
    // S = Q @ K^T   (T,D) @ (D,T) -> (T,T), written where P goes; K^T is K read with swapped strides
    gemm(T, T, D, {Q, D, 1}, {K, 1, D}, P, T, false);
    int64_t bad_row = -1;
    for (int64_t i = 0; i < T; ++i) {
        Scalar* s = P + i * T;  // (T): the scores of query i, then its probabilities, in place
        // S[i, :] = S[i, :] * scale + bias[i, :]
        if (bias) {
            const Scalar* b = bias + i * si;
            for (int64_t j = 0; j < T; ++j) s[j] = s[j] * scale + b[j * sj];
        } else {
            for (int64_t j = 0; j < T; ++j) s[j] *= scale;
        }
        // P[i, :] = softmax(S[i, :]) = e^(s - m) / sum e^(s - m), m the row maximum (as in softmax.cpp).
        // A -inf score gives e^(-inf) = 0 exactly: a masked key gets probability exactly 0.
        const Scalar m = row_max(s, T);
        if (!std::isfinite(m) && bad_row < 0) bad_row = i;  // all -inf: 0/0 below; reported by the caller
        Scalar total = 0;
        for (int64_t j = 0; j < T; ++j) total += s[j] = std::exp(s[j] - m);
        const Scalar inverse = 1 / total;
        for (int64_t j = 0; j < T; ++j) s[j] *= inverse;
    }
    // O = P @ V   (T,T) @ (T,D) -> (T,D)
    gemm(T, D, T, {P, T, 1}, {V, D, 1}, O, D, false);
    return bad_row;
}

// ---- backward of one (b, h) pair -----------------------------------------------------------------------
// Restating the forward, for one pair (indices i: query, j: key, d: head channel):
//   S[i,j] = scale * sum_d Q[i,d] K[j,d] + bias[i,j]
//   P[i,j] = e^S[i,j] / sum_j' e^S[i,j']
//   O[i,d] = sum_j P[i,j] V[j,d]
// and given dO = dL/dO (T, D):
//   dV[j,d] = sum_i P[i,j] dO[i,d]                          dV = P^T dO       (T,T)^T (T,D) -> (T,D)
//   dP[i,j] = sum_d dO[i,d] V[j,d]                          dP = dO V^T       (T,D) (D,T)   -> (T,T)
//   dS[i,j] = sum_j' dP[i,j'] dP[i,j']/dS[i,j] = sum_j' dP[i,j'] P[i,j'] (delta_jj' - P[i,j])
//           = P[i,j] (dP[i,j] - sum_j' dP[i,j'] P[i,j'])    the softmax backward, one dot per row
//   dQ[i,d] = scale * sum_j dS[i,j] K[j,d]                  dQ = (dS scale) K     (T,T) (T,D) -> (T,D)
//   dK[j,d] = scale * sum_i dS[i,j] Q[i,d]                  dK = (dS scale)^T Q   (T,T)^T (T,D) -> (T,D)
//   dbias[i,j] = dS[i,j]                                    summed by the caller over broadcast dims
//   dQ, dK, dV: the pair's gradient slices, accumulated (+=), or null when not wanted
//   dS: where dS (T, T) goes for dbias, or null; added into (dS_add: a full bias's gradient) or written
//   work: scratch (T, T): dP, then dS * scale in place
void backward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, const Scalar* P, const Scalar* dO,
                   Scalar scale, int64_t T, int64_t D, Scalar* dQ, Scalar* dK, Scalar* dV, Scalar* dS, bool dS_add,
                   Scalar* work) {
    // dV += P^T @ dO   (T,T)^T (T,D) -> (T,D)
    if (dV) gemm(T, D, T, {P, 1, T}, {dO, D, 1}, dV, D, true);
    // dP = dO @ V^T   (T,D) @ (D,T) -> (T,T)
    gemm(T, T, D, {dO, D, 1}, {V, 1, D}, work, T, false);
    for (int64_t i = 0; i < T; ++i) {
        const Scalar* p = P + i * T;  // (T)
        Scalar* w = work + i * T;     // (T): dP[i, :], then dS[i, :] * scale
        // dS[i, :] = P[i, :] * (dP[i, :] - dot(dP[i, :], P[i, :]))
        Scalar dot = 0;
        for (int64_t j = 0; j < T; ++j) dot += w[j] * p[j];
        if (dS && dS_add) {
            Scalar* ds = dS + i * T;
            for (int64_t j = 0; j < T; ++j) ds[j] += p[j] * (w[j] - dot);
        } else if (dS) {
            Scalar* ds = dS + i * T;
            for (int64_t j = 0; j < T; ++j) ds[j] = p[j] * (w[j] - dot);
        }
        for (int64_t j = 0; j < T; ++j) w[j] = p[j] * (w[j] - dot) * scale;
    }
    // dQ += (dS scale) @ K     (T,T) @ (T,D) -> (T,D)
    if (dQ) gemm(T, D, T, {work, T, 1}, {K, D, 1}, dQ, D, true);
    // dK += (dS scale)^T @ Q   (T,T)^T @ (T,D) -> (T,D)
    if (dK) gemm(T, D, T, {work, 1, T}, {Q, D, 1}, dK, D, true);
}

// dbias += dS summed over the dimensions bias was broadcast along.
//   dS (B, H, T, T), the whole batch's score gradients;  dbias: bias's gradient, shape layout.shape4
// Parallel over the rows of bias (each iteration owns one row of dbias, T or 1 elements) and, inside a
// row, summed in the fixed order b, h, i, j: the same bits whatever the number of threads.
void reduce_bias_grad(const Scalar* dS, Scalar* dbias, const BiasLayout& layout, int64_t B, int64_t H, int64_t T) {
    const int64_t Bb = layout.shape4[0], Hb = layout.shape4[1], Ib = layout.shape4[2], Jb = layout.shape4[3];
    const int64_t rows = Bb * Hb * Ib;
#pragma omp parallel for if (B * H * T * T >= kParallelElements)  // iteration r owns dbias row r
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t b0 = r / (Hb * Ib), h0 = r / Ib % Hb, i0 = r % Ib;
        Scalar* out = dbias + r * Jb;
        for (int64_t b = (Bb == 1 ? 0 : b0); b < (Bb == 1 ? B : b0 + 1); ++b)
            for (int64_t h = (Hb == 1 ? 0 : h0); h < (Hb == 1 ? H : h0 + 1); ++h)
                for (int64_t i = (Ib == 1 ? 0 : i0); i < (Ib == 1 ? T : i0 + 1); ++i) {
                    const Scalar* g = dS + ((b * H + h) * T + i) * T;
                    if (Jb == T) {
                        for (int64_t j = 0; j < T; ++j) out[j] += g[j];
                    } else {
                        for (int64_t j = 0; j < T; ++j) out[0] += g[j];
                    }
                }
    }
}

}  // namespace

// scaled_dot_product_attention: out = softmax(q @ k^T * scale + bias, -1) @ v, per (b, h) pair, fused
//   q, k, v (B, H, T, D), equal shapes (self-attention)
//   bias: undefined, or broadcastable to (B, H, T, T): (1, H, T, T) relative position bias,
//         (B, 1, T, T) a mask with -100 or -inf entries, (T, T), ...
//   -> out (B, H, T, D);  *weights (if asked) = P (B, H, T, T), no grad, sharing the numbers the backward
//      keeps (read it, do not write it)
//   A row whose scores are all -inf (a mask that hides every key from some query) has no softmax: e^-inf
//   / sum e^-inf = 0/0. PyTorch returns NaN there, silently; this op throws, naming the row. Swin masks with
//   -100, so its rows always keep a finite score. A -inf entry in a row that has a finite one is fine: its
//   probability is exactly 0.
//   Forward and backward per pair: forward_pair and backward_pair above, with the derivation.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                    Scalar scale, Tensor* weights) {
    check_defined(q, kOp, "q");
    check_defined(k, kOp, "k");
    check_defined(v, kOp, "v");
    check(q.dim() == 4, kOp, ": q ", q.shape(), " must have 4 dimensions (B, H, T, D)");
    check(k.shape() == q.shape() && v.shape() == q.shape(), kOp, ": q ", q.shape(), ", k ", k.shape(), " and v ",
          v.shape(), " must have the same shape (B, H, T, D) (self-attention)");
    const BiasLayout layout = bias_layout(bias, q);
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const int64_t pairs = B * H;

    const bool needs_grad = grad_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                                               (bias.defined() && bias.requires_grad()));
    const bool keep_p = needs_grad || weights != nullptr;
    Tensor out = Tensor::empty(q.shape());
    Tensor P = keep_p ? Tensor::empty({B, H, T, T}) : Tensor();  // (B, H, T, T)

    const Scalar *qd = q.data(), *kd = k.data(), *vd = v.data();
    const Scalar* bd = layout.defined ? bias.data() : nullptr;
    Scalar* od = out.data();
    Scalar* pd = keep_p ? P.data() : nullptr;
    // The first fully masked row, as a flat index pair * T + i; the minimum over threads, so the same
    // row is reported whatever the thread count (an exception must not leave an OpenMP region).
    int64_t first_bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for schedule(static) if (pairs * T * T * D >= kParallelElements) reduction(min : first_bad)
    for (int64_t pair = 0; pair < pairs; ++pair) {  // iteration `pair` owns out[b, h] and P[b, h]
        const int64_t b = pair / H, h = pair % H;
        const int64_t offset = pair * T * D;
        const Scalar* bias_pair = bd ? bd + b * layout.sb + h * layout.sh : nullptr;
        Scalar* p = keep_p ? pd + pair * T * T : thread_scratch(T * T);  // not kept: per-thread scratch
        const int64_t bad = forward_pair(qd + offset, kd + offset, vd + offset, bias_pair, layout.si, layout.sj, scale,
                                         T, D, p, od + offset);
        if (bad >= 0) first_bad = std::min(first_bad, pair * T + bad);
    }
    if (first_bad != std::numeric_limits<int64_t>::max()) {
        const int64_t pair = first_bad / T, i = first_bad % T;
        check(false, kOp, ": query ", i, " of batch ", pair / H, ", head ", pair % H, " has no finite score: ",
              "every score in its row is -inf (the bias ", layout.shape4, " masks all ", T, " keys), or one is ",
              "+inf or NaN; its softmax would be 0/0 = NaN. Leave every query at least one key, or mask with a ",
              "large negative number such as -100 (as Swin does). q ", q.shape(), ", scores (B, H, T, T) = ",
              Shape{B, H, T, T});
    }
    if (weights) *weights = P;  // a plain tensor: P is not part of the graph

    // Backward: see backward_pair for the derivation. The closure keeps q, k, v, bias and P (not `out`).
    out.set_backward(kOp, {q, k, v, bias}, [q, k, v, bias, P, layout, scale](const Tensor& dout) {
        const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
        const int64_t pairs = B * H;
        const bool want_bias = layout.defined && bias.requires_grad();
        // Where dS goes: a broadcast bias needs every pair's dS to sum over pairs afterwards (one
        // (B, H, T, T) scratch, reduced by reduce_bias_grad); a full (B, H, T, T) bias takes each pair's dS
        // straight into its gradient slice; with no bias gradient wanted dS only lives in thread scratch.
        Tensor dS_all = want_bias && layout.broadcast ? Tensor::empty({B, H, T, T}) : Tensor();
        // grad_data() allocates on first use: call it here, outside the parallel region.
        Scalar* dq = q.requires_grad() ? q.grad_data() : nullptr;
        Scalar* dk = k.requires_grad() ? k.grad_data() : nullptr;
        Scalar* dv = v.requires_grad() ? v.grad_data() : nullptr;
        Scalar* dbias_full = want_bias && !layout.broadcast ? bias.grad_data() : nullptr;
        Scalar* ds_all = dS_all.defined() ? dS_all.data() : nullptr;
        const Scalar *qd = q.data(), *kd = k.data(), *vd = v.data(), *pd = P.data(), *gd = dout.data();
#pragma omp parallel for schedule(static) if (pairs * T * T * D >= kParallelElements)
        for (int64_t pair = 0; pair < pairs; ++pair) {  // iteration `pair` owns dq, dk, dv, dS at [b, h]
            const int64_t offset = pair * T * D;
            Scalar* ds = ds_all ? ds_all + pair * T * T : dbias_full ? dbias_full + pair * T * T : nullptr;
            backward_pair(qd + offset, kd + offset, vd + offset, pd + pair * T * T, gd + offset, scale, T, D,
                          dq ? dq + offset : nullptr, dk ? dk + offset : nullptr, dv ? dv + offset : nullptr, ds,
                          dbias_full != nullptr, thread_scratch(T * T));
        }
        if (ds_all) reduce_bias_grad(ds_all, bias.grad_data(), layout, B, H, T);
    });
    return out;
}

}  // namespace patchgrad::inline PATCHGRAD_FLAVOUR
