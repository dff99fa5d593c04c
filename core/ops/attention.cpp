// scaled_dot_product_attention: softmax(q k^T * scale + bias) v, one fused kernel with a hand-written
// backward; and multi_head_attention, the same kernel reading the heads straight out of a packed (B, T, 3C)
// projection.                                                               docs/attention.md tells the story.
//
// Legend:
//   B   batch (for Swin: images * windows)        H   heads
//   T   tokens (65 for the tiny ViT, 16 for a 4 x 4 Swin window)       D   head size
//   S   the scores (T, T) of one (b, h) pair;  P = softmax(S) row-wise, the attention probabilities
//   St, Pt  the same, transposed: St[j, i] = S[i, j], row j holds key j's score for every query i
//
// Why transposed: the softmax of query i runs along row i of S, a reduction along a row (a maximum, then a
// sum). Held as St instead, query i is column i, and the maximum and the sum of every query at once become
// plain additions of whole rows of St, in vectorising order, with no reduction across lanes and no short
// row tail per query (T = 65 is 4 vectors and one number). The ViT's attention in inference: 2.45 to 2.56
// -> 1.95 to 1.98 ms (build/bench_attention; docs/attention.md, section 8). The products read St either
// way round for free, as gemm takes any strides.
//
// Why fused: built from primitives, attention is matmul, mul, add, softmax, matmul, and four of those
// steps write a (B, H, T, T) tensor that the backward keeps or reads (plus as many gradients). Here each
// (b, h) pair is worked through from q to out in one go, while its (T, T) scores sit in L1/L2, and only
// P is kept for the backward (as Pt): B*H*T*T numbers, 2.2M floats (8.7 MB) per ViT block at B = 128, H = 4,
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
#include "core/ops/fast_math.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

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

// op, input_name, input_shape: for the error message ("scaled_dot_product_attention: ... of q (2, 4, 5, 8)")
BiasLayout bias_layout(const Tensor& bias, int64_t B, int64_t H, int64_t T, const char* op, const char* input_name,
                       const Shape& input_shape) {
    BiasLayout layout;
    if (!bias.defined()) return layout;
    const Shape scores{B, H, T, T};
    const Shape& shape = bias.shape();
    const int64_t rank = bias.dim();
    bool fits = rank <= 4;
    for (int64_t d = 0; fits && d < rank; ++d) {
        const int64_t size = shape[rank - 1 - d], target = scores[3 - d];
        fits = size == target || size == 1;
    }
    check(fits, op, ": bias ", shape, " does not broadcast to the scores' shape (B, H, T, T) = ", scores, " of ",
          input_name, " ", input_shape, " (each bias size must equal the scores' size or be 1, aligned on the right)");
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

// Grow-only scratch arrays per thread: allocated on a thread's first call, reused by every later call,
// so the hot loop allocates nothing. Each OpenMP thread gets its own (thread_local). Two of them, so that
// a pair's (T, T) block (Scratch::block) and its per-query numbers, T maxima, sums or dots
// (Scratch::queries), never share memory.
enum class Scratch { block, queries };
Scalar* thread_scratch(int64_t n, Scratch which = Scratch::block) {
    thread_local std::vector<Scalar> buffers[2];
    std::vector<Scalar>& buffer = buffers[static_cast<int>(which)];
    if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

// Ask for the rows of one pair's operand (T rows of D numbers, row stride ld) to be brought into L2,
// without waiting for them. The (B, T, 3C) projection is larger than the caches (12.8 MB for the ViT at
// B = 128), so each pair's q, k and v come from memory: touched first by the packing of K^T, one load of
// the packing loop took 90% of its time, waiting. Asked for one pair ahead, they arrive while the current
// pair computes. Into L2, not L1: a pair's own numbers (P, dS, its rows) fill L1 and would push them out
// before use. `for_writing`: rows the next pair will write (the gradients), fetched ready to be changed.
void prefetch_rows(const Scalar* rows, int64_t ld, int64_t T, int64_t D, bool for_writing = false) {
    constexpr int64_t kLine = 64 / sizeof(Scalar);  // numbers per 64-byte cache line
    for (int64_t t = 0; t < T; ++t)
        for (int64_t d = 0; d < D; d += kLine) {
            if (for_writing) __builtin_prefetch(rows + t * ld + d, 1, 2);  // 2: to L2 (prefetcht1 on x86)
            else __builtin_prefetch(rows + t * ld + d, 0, 2);
        }
}

// ---- forward of one (b, h) pair ------------------------------------------------------------------------
//   Q, K, V (T, D), row t at Q + t * ld_in (ld_in = D when q, k, v are separate (B, H, T, D) tensors;
//            3C when they are the heads of one packed (B, T, 3C) projection, see multi_head_attention)
//   bias: the pair's bias (element (i, j) at i * si + j * sj), or null
//   writes Pt (T, T), the probabilities transposed (Pt[j, i] = P[i, j]), and O (T, D) with row stride ld_out
// The two products are gemm calls; from inside the parallel region over pairs, gemm runs serially.
// Returns -1, or the first query whose largest score is not finite (every score -inf, i.e. fully masked).
int64_t forward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, int64_t ld_in, const Scalar* bias, int64_t si,
                     int64_t sj, Scalar scale, int64_t T, int64_t D, Scalar* Pt, Scalar* O, int64_t ld_out) {
    // St = K @ Q^T   (T,D) @ (D,T) -> (T,T), written where Pt goes; Q^T is Q read with swapped strides
    gemm(T, T, D, {K, ld_in, 1}, {Q, 1, ld_in}, Pt, T, false);
    Scalar* m = thread_scratch(2 * T, Scratch::queries);  // (T): each query's largest score
    Scalar* total = m + T;                                // (T): each query's sum of e^(s - m), then its inverse
    for (int64_t i = 0; i < T; ++i) m[i] = -std::numeric_limits<Scalar>::infinity(), total[i] = 0;
    // St[j, :] = St[j, :] * scale + bias[:, j], and m[i] = max over j of St[j, i]: row by row, every query
    // at once. The maximum is exact, so its order does not matter.
    for (int64_t j = 0; j < T; ++j) {
        Scalar* s = Pt + j * T;  // (T): key j's score for each query
        if (bias) {
            for (int64_t i = 0; i < T; ++i) s[i] = s[i] * scale + bias[i * si + j * sj];
        } else {
            for (int64_t i = 0; i < T; ++i) s[i] = s[i] * scale;
        }
        for (int64_t i = 0; i < T; ++i) m[i] = std::max(m[i], s[i]);
    }
    int64_t bad_query = -1;
    for (int64_t i = 0; i < T; ++i)
        if (!std::isfinite(m[i]) && bad_query < 0) bad_query = i;  // all -inf: 0/0 below; reported by the caller
    // P[i, j] = e^(S[i, j] - m[i]) / sum_j' e^(S[i, j'] - m[i])   (as in softmax.cpp). A -inf score gives
    // e^(-inf) = 0 exactly: a masked key gets probability exactly 0. Each query's sum runs j = 0, 1, 2, ...
    // in its own lane. fast_exp (fast_math.h) vectorises.
    for (int64_t j = 0; j < T; ++j) {
        Scalar* s = Pt + j * T;
        for (int64_t i = 0; i < T; ++i) {
            s[i] = fast_exp(s[i] - m[i]);
            total[i] += s[i];
        }
    }
    for (int64_t i = 0; i < T; ++i) total[i] = 1 / total[i];
    for (int64_t j = 0; j < T; ++j) {
        Scalar* p = Pt + j * T;
        for (int64_t i = 0; i < T; ++i) p[i] *= total[i];
    }
    // O = P @ V = Pt^T @ V   (T,T) @ (T,D) -> (T,D); Pt^T is Pt read with swapped strides
    gemm(T, D, T, {Pt, 1, T}, {V, ld_in, 1}, O, ld_out, false);
    return bad_query;
}

// ---- backward of one (b, h) pair -----------------------------------------------------------------------
// Restating the forward, for one pair (indices i: query, j: key, d: head channel):
//   S[i,j] = scale * sum_d Q[i,d] K[j,d] + bias[i,j]
//   P[i,j] = e^S[i,j] / sum_j' e^S[i,j']
//   O[i,d] = sum_j P[i,j] V[j,d]
// and given dO = dL/dO (T, D):
//   dV[j,d] = sum_i P[i,j] dO[i,d]                          dV = P^T dO  = Pt dO          (T,T) (T,D) -> (T,D)
//   dP[i,j] = sum_d dO[i,d] V[j,d]                          dPt = V dO^T                  (T,D) (D,T) -> (T,T)
//   dS[i,j] = sum_j' dP[i,j'] dP[i,j']/dS[i,j] = sum_j' dP[i,j'] P[i,j'] (delta_jj' - P[i,j])
//           = P[i,j] (dP[i,j] - sum_j' dP[i,j'] P[i,j'])    the softmax backward, one dot per query
//   dQ[i,d] = scale * sum_j dS[i,j] K[j,d]                  dQ = (dSt scale)^T K          (T,T) (T,D) -> (T,D)
//   dK[j,d] = scale * sum_i dS[i,j] Q[i,d]                  dK = (dSt scale) Q            (T,T) (T,D) -> (T,D)
//   dbias[i,j] = dS[i,j]                                    summed by the caller over broadcast dims
// Everything (T, T) is held transposed, as in the forward: the dot of query i is a sum down column i.
//   Pt: the forward's probabilities, transposed
//   dQ, dK, dV: the pair's gradient slices (row stride ld_in, like Q, K, V), or null; added into when
//               `accumulate`, else overwritten (a fresh gradient buffer, see GradAccumulator)
//   dO: row stride ld_out, like O
//   dSt: where dSt (T, T) goes for dbias, transposed like Pt, or null
//   work: scratch (T, T): dPt, then dSt * scale in place
void backward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, int64_t ld_in, const Scalar* Pt,
                   const Scalar* dO, int64_t ld_out, Scalar scale, int64_t T, int64_t D, Scalar* dQ, Scalar* dK,
                   Scalar* dV, bool accumulate, Scalar* dSt, Scalar* work) {
    // dV += Pt @ dO   (T,T) (T,D) -> (T,D)
    if (dV) gemm(T, D, T, {Pt, T, 1}, {dO, ld_out, 1}, dV, ld_in, accumulate);
    // dPt = V @ dO^T   (T,D) @ (D,T) -> (T,T)
    gemm(T, T, D, {V, ld_in, 1}, {dO, 1, ld_out}, work, T, false);
    // dot[i] = sum_j dP[i, j] P[i, j]: down column i, j = 0, 1, 2, ..., every query at once
    Scalar* dot = thread_scratch(T, Scratch::queries);  // (T)
    for (int64_t i = 0; i < T; ++i) dot[i] = 0;
    for (int64_t j = 0; j < T; ++j) {
        const Scalar* p = Pt + j * T;
        const Scalar* w = work + j * T;
        for (int64_t i = 0; i < T; ++i) dot[i] += w[i] * p[i];
    }
    for (int64_t j = 0; j < T; ++j) {
        const Scalar* p = Pt + j * T;  // (T): P[:, j]
        Scalar* w = work + j * T;      // (T): dP[:, j], then dS[:, j] * scale
        // dS[:, j] = P[:, j] * (dP[:, j] - dot)
        if (dSt) {
            Scalar* ds = dSt + j * T;
            for (int64_t i = 0; i < T; ++i) ds[i] = p[i] * (w[i] - dot[i]);
        }
        for (int64_t i = 0; i < T; ++i) w[i] = p[i] * (w[i] - dot[i]) * scale;
    }
    // dQ += (dSt scale)^T @ K     (T,T) (T,D) -> (T,D)
    if (dQ) gemm(T, D, T, {work, 1, T}, {K, ld_in, 1}, dQ, ld_in, accumulate);
    // dK += (dSt scale) @ Q       (T,T) (T,D) -> (T,D)
    if (dK) gemm(T, D, T, {work, T, 1}, {Q, ld_in, 1}, dK, ld_in, accumulate);
}

// dbias += dS summed over the dimensions bias was broadcast along.
//   dSt (B, H, T, T), the whole batch's score gradients, each pair's block transposed (element (b, h, i, j)
//       of dS at ((b * H + h) * T + j) * T + i);  dbias: bias's gradient, shape layout.shape4
// Parallel over the rows of bias (each iteration owns one row of dbias, T or 1 elements) and, inside a
// row, summed in the fixed order b, h, i, j: the same bits whatever the number of threads.
void reduce_bias_grad(const Scalar* dSt, Scalar* dbias, const BiasLayout& layout, int64_t B, int64_t H, int64_t T) {
    const int64_t Bb = layout.shape4[0], Hb = layout.shape4[1], Ib = layout.shape4[2], Jb = layout.shape4[3];
    const int64_t rows = Bb * Hb * Ib;
#pragma omp parallel for if (B * H * T * T >= kParallelElements)  // iteration r owns dbias row r
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t b0 = r / (Hb * Ib), h0 = r / Ib % Hb, i0 = r % Ib;
        Scalar* out = dbias + r * Jb;
        for (int64_t b = (Bb == 1 ? 0 : b0); b < (Bb == 1 ? B : b0 + 1); ++b)
            for (int64_t h = (Hb == 1 ? 0 : h0); h < (Hb == 1 ? H : h0 + 1); ++h)
                for (int64_t i = (Ib == 1 ? 0 : i0); i < (Ib == 1 ? T : i0 + 1); ++i) {
                    const Scalar* g = dSt + (b * H + h) * T * T + i;  // dS[b, h, i, j] = g[j * T]
                    if (Jb == T) {
                        for (int64_t j = 0; j < T; ++j) out[j] += g[j * T];
                    } else {
                        for (int64_t j = 0; j < T; ++j) out[0] += g[j * T];
                    }
                }
    }
}

// ---- the whole batch of pairs, for both ops --------------------------------------------------------------
// Where the heads of q, k, v (and of out) sit in memory: element (b, h, t, d) of the (B, H, T, D) view
// is at  b * batch + h * head + t * row + d  from the operand's first element.
//   separate (B, H, T, D) tensors (scaled_dot_product_attention):  batch H*T*D, head T*D, row D
//   one packed (B, T, 3C) projection (multi_head_attention):       batch T*3C,  head D,   row 3C
//                                           (q, k and v start at element 0, C and 2C of it; C = H * D)
//   its (B, T, C) output, heads side by side:                      batch T*C,   head D,   row C
// The gemm calls take the row stride as their leading dimension, so the packed layout costs nothing:
// no permute copies the heads out of the projection, or the output back into (B, T, C).
struct HeadStrides {
    int64_t batch, head, row;
    int64_t offset(int64_t b, int64_t h) const { return b * batch + h * head; }
};

struct AttentionShape {
    int64_t B, H, T, D;
    HeadStrides in;   // q, k, v and their gradients
    HeadStrides out;  // out and dout
};

// Forward of every pair. Each OpenMP iteration owns one pair: its rows of out and its (T, T) block of Pt.
//   Pt: (B, H, T, T) probabilities, each pair's block transposed, or null when they are not kept (a
//       per-thread scratch instead)
// Returns the first fully masked row as a flat index pair * T + i (the smallest over threads, so the
// same row is reported whatever the thread count), or -1.
int64_t attention_forward(const AttentionShape& a, const Scalar* q, const Scalar* k, const Scalar* v,
                          const Scalar* bias, const BiasLayout& layout, Scalar scale, Scalar* Pt, Scalar* out) {
    const int64_t H = a.H, T = a.T, pairs = a.B * a.H;
    int64_t first_bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for schedule(static) if (pairs * T * T * a.D >= kParallelElements) reduction(min : first_bad)
    for (int64_t pair = 0; pair < pairs; ++pair) {  // iteration `pair` owns out[b, h] and Pt[b, h]
        const int64_t b = pair / H, h = pair % H, in = a.in.offset(b, h);
        if (pair + 1 < pairs) {  // the next pair, which this thread computes next (schedule static)
            const int64_t next = a.in.offset((pair + 1) / H, (pair + 1) % H);
            for (const Scalar* operand : {q, k, v}) prefetch_rows(operand + next, a.in.row, T, a.D);
        }
        const Scalar* bias_pair = bias ? bias + b * layout.sb + h * layout.sh : nullptr;
        Scalar* p = Pt ? Pt + pair * T * T : thread_scratch(T * T);
        const int64_t bad = forward_pair(q + in, k + in, v + in, a.in.row, bias_pair, layout.si, layout.sj, scale, T,
                                         a.D, p, out + a.out.offset(b, h), a.out.row);
        if (bad >= 0) first_bad = std::min(first_bad, pair * T + bad);
    }
    return first_bad == std::numeric_limits<int64_t>::max() ? -1 : first_bad;
}

// The attention weights P (B, H, T, T), for a caller who asks for them: each pair's block of Pt transposed
// back, a plain tensor (no grad) of its own.
Tensor weights_from(const Tensor& Pt) {
    const int64_t T = Pt.size(3), pairs = Pt.numel() / (T * T);
    Tensor P = Tensor::empty(Pt.shape());
    const Scalar* pt = Pt.data();
    Scalar* p = P.data();
    for (int64_t pair = 0; pair < pairs; ++pair)
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) p[(pair * T + i) * T + j] = pt[(pair * T + j) * T + i];
    return P;
}

// The error for a fully masked row (see the ops' contracts below).
void throw_fully_masked(const char* op, int64_t first_bad, const AttentionShape& a, const BiasLayout& layout,
                        const char* input_name, const Shape& input_shape) {
    const int64_t pair = first_bad / a.T, i = first_bad % a.T;
    check(false, op, ": query ", i, " of batch ", pair / a.H, ", head ", pair % a.H, " has no finite score: ",
          "every score in its row is -inf (the bias ", layout.shape4, " masks all ", a.T, " keys), or one is ",
          "+inf or NaN; its softmax would be 0/0 = NaN. Leave every query at least one key, or mask with a ",
          "large negative number such as -100 (as Swin does). ", input_name, " ", input_shape,
          ", scores (B, H, T, T) = ", Shape{a.B, a.H, a.T, a.T});
}

// Backward of every pair (backward_pair has the derivation), then the bias's gradient.
//   dq, dk, dv: the gradients of q, k, v (laid out like q, k, v), or null: added into, or overwritten
//               when not `accumulate` (every element of each belongs to exactly one pair)
//   bias: the bias tensor (its gradient is wanted when it requires grad), or undefined
// Each OpenMP iteration owns one pair: its rows of dq, dk, dv and its (T, T) block of dS.
void attention_backward(const AttentionShape& a, const Scalar* q, const Scalar* k, const Scalar* v, const Scalar* Pt,
                        const Scalar* dout, Scalar scale, Scalar* dq, Scalar* dk, Scalar* dv, bool accumulate,
                        const Tensor& bias, const BiasLayout& layout) {
    const int64_t H = a.H, T = a.T, pairs = a.B * a.H;
    const bool want_bias = layout.defined && bias.requires_grad();
    // Where dS goes: when the bias's gradient is wanted, every pair's dSt into one (B, H, T, T) scratch,
    // summed over the bias's broadcast dimensions afterwards by reduce_bias_grad (for a full bias, a
    // transposing copy); otherwise dS only lives in thread scratch.
    Tensor dS_all = want_bias ? Tensor::empty({a.B, H, T, T}) : Tensor();
    Scalar* ds_all = dS_all.defined() ? dS_all.data() : nullptr;
#pragma omp parallel for schedule(static) if (pairs * T * T * a.D >= kParallelElements)
    for (int64_t pair = 0; pair < pairs; ++pair) {  // iteration `pair` owns dq, dk, dv, dS at [b, h]
        const int64_t b = pair / H, h = pair % H, in = a.in.offset(b, h);
        if (pair + 1 < pairs) {  // as in the forward: the next pair's rows, while this one computes
            const int64_t next_b = (pair + 1) / H, next_h = (pair + 1) % H, next = a.in.offset(next_b, next_h);
            for (const Scalar* operand : {q, k, v}) prefetch_rows(operand + next, a.in.row, T, a.D);
            prefetch_rows(dout + a.out.offset(next_b, next_h), a.out.row, T, a.D);
            for (Scalar* gradient : {dq, dk, dv})
                if (gradient) prefetch_rows(gradient + next, a.in.row, T, a.D, true);
        }
        backward_pair(q + in, k + in, v + in, a.in.row, Pt + pair * T * T, dout + a.out.offset(b, h), a.out.row,
                      scale, T, a.D, dq ? dq + in : nullptr, dk ? dk + in : nullptr, dv ? dv + in : nullptr,
                      accumulate, ds_all ? ds_all + pair * T * T : nullptr, thread_scratch(T * T));
    }
    if (ds_all) reduce_bias_grad(ds_all, bias.grad_data(), layout, a.B, H, T);
}

}  // namespace

// scaled_dot_product_attention: out = softmax(q @ k^T * scale + bias, -1) @ v, per (b, h) pair, fused
//   q, k, v (B, H, T, D), equal shapes (self-attention)
//   bias: undefined, or broadcastable to (B, H, T, T): (1, H, T, T) relative position bias,
//         (B, 1, T, T) a mask with -100 or -inf entries, (T, T), ...
//   -> out (B, H, T, D);  *weights (if asked) = P (B, H, T, T), no grad, a copy of the probabilities the
//      backward keeps (it keeps them transposed, Pt)
//   A row whose scores are all -inf (a mask that hides every key from some query) has no softmax: e^-inf
//   / sum e^-inf = 0/0. PyTorch returns NaN there, silently; this op throws, naming the row. Swin masks with
//   -100, so its rows always keep a finite score. A -inf entry in a row that has a finite one is fine: its
//   probability is exactly 0.
//   Forward and backward per pair: forward_pair and backward_pair above, with the derivation.
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                    Scalar scale, Tensor* weights) {
    constexpr const char* kOp = "scaled_dot_product_attention";
    check_defined(q, kOp, "q");
    check_defined(k, kOp, "k");
    check_defined(v, kOp, "v");
    check(q.dim() == 4, kOp, ": q ", q.shape(), " must have 4 dimensions (B, H, T, D)");
    check(k.shape() == q.shape() && v.shape() == q.shape(), kOp, ": q ", q.shape(), ", k ", k.shape(), " and v ",
          v.shape(), " must have the same shape (B, H, T, D) (self-attention)");
    const int64_t B = q.size(0), H = q.size(1), T = q.size(2), D = q.size(3);
    const BiasLayout layout = bias_layout(bias, B, H, T, kOp, "q", q.shape());
    const HeadStrides separate{H * T * D, T * D, D};
    const AttentionShape a{B, H, T, D, separate, separate};

    const bool needs_grad = grad_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad() ||
                                               (bias.defined() && bias.requires_grad()));
    const bool keep_p = needs_grad || weights != nullptr;
    Tensor out = Tensor::empty(q.shape());
    Tensor Pt = keep_p ? Tensor::empty({B, H, T, T}) : Tensor();  // (B, H, T, T), each (T, T) transposed
    const int64_t bad = attention_forward(a, q.data(), k.data(), v.data(), layout.defined ? bias.data() : nullptr,
                                          layout, scale, keep_p ? Pt.data() : nullptr, out.data());
    if (bad >= 0) throw_fully_masked(kOp, bad, a, layout, "q", q.shape());
    if (weights) *weights = weights_from(Pt);  // a plain tensor: P is not part of the graph

    // The closure keeps q, k, v, bias and Pt (not `out`).
    out.set_backward(kOp, {q, k, v, bias}, [q, k, v, bias, Pt, a, layout, scale](const Tensor& dout) {
        attention_backward(a, q.data(), k.data(), v.data(), Pt.data(), dout.data(), scale,
                           q.requires_grad() ? q.grad_data() : nullptr, k.requires_grad() ? k.grad_data() : nullptr,
                           v.requires_grad() ? v.grad_data() : nullptr, true, bias, layout);
    });
    return out;
}

// multi_head_attention: the attention of a transformer block, straight from the packed projection
//   qkv (B, T, 3C): each token's [q | k | v], each C = H * D wide and made of H heads of D channels
//   heads H, bias and scale as scaled_dot_product_attention
//   -> out (B, T, C): each token's H head outputs side by side, ready for the output projection
// It computes exactly what this composition does (tests/test_attention_op.cpp checks it, values and
// gradients):
//   q, k, v = qkv.reshape(B, T, 3, H, D).permute(2, 0, 3, 1, 4)       three (B, H, T, D)
//   out = scaled_dot_product_attention(q, k, v, bias, scale).permute(0, 2, 1, 3).reshape(B, T, C)
// but reads the heads where they lie and writes the output where it belongs (HeadStrides above), so the
// two permutes and their copies, forward and backward, never happen. The backward fills dqkv
// (B, T, 3C) the same way: each pair owns its head's D columns of the q, k and v parts.
Tensor multi_head_attention(const Tensor& qkv, int64_t heads, const Tensor& bias, Scalar scale, Tensor* weights) {
    constexpr const char* kOp = "multi_head_attention";
    check_defined(qkv, kOp, "qkv");
    check(qkv.dim() == 3, kOp, ": qkv ", qkv.shape(), " must have 3 dimensions (B, T, 3C)");
    check(heads > 0 && qkv.size(2) % (3 * heads) == 0, kOp, ": qkv ", qkv.shape(), " has ", qkv.size(2),
          " features, which is not 3 * heads * D for heads = ", heads);
    const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, H = heads, D = C / H;
    const BiasLayout layout = bias_layout(bias, B, H, T, kOp, "qkv", qkv.shape());
    const AttentionShape a{B, H, T, D, HeadStrides{T * 3 * C, D, 3 * C}, HeadStrides{T * C, D, C}};

    const bool needs_grad = grad_enabled() && (qkv.requires_grad() || (bias.defined() && bias.requires_grad()));
    const bool keep_p = needs_grad || weights != nullptr;
    Tensor out = Tensor::empty({B, T, C});
    Tensor Pt = keep_p ? Tensor::empty({B, H, T, T}) : Tensor();  // (B, H, T, T), each (T, T) transposed
    const Scalar* x = qkv.data();
    const int64_t bad = attention_forward(a, x, x + C, x + 2 * C, layout.defined ? bias.data() : nullptr, layout,
                                          scale, keep_p ? Pt.data() : nullptr, out.data());
    if (bad >= 0) throw_fully_masked(kOp, bad, a, layout, "qkv", qkv.shape());
    if (weights) *weights = weights_from(Pt);

    out.set_backward(kOp, {qkv, bias}, [qkv, bias, Pt, a, layout, scale](const Tensor& dout) {
        const Scalar* x = qkv.data();
        const int64_t C = a.H * a.D;
        // The pairs between them add into every element of dqkv exactly once.
        const GradAccumulator dqkv = qkv.requires_grad() ? qkv.grad_accumulator() : GradAccumulator(nullptr, false);
        Scalar* dx = dqkv.data();
        attention_backward(a, x, x + C, x + 2 * C, Pt.data(), dout.data(), scale, dx, dx ? dx + C : nullptr,
                           dx ? dx + 2 * C : nullptr, dqkv.accumulate(), bias, layout);
    });
    return out;
}

// ---- the textbook twins: the same math from primitive ops (tests/test_reference_ops.cpp) ----------------

// scaled_dot_product_attention_reference: attention as the paper writes it, one op at a time.
//   q, k, v (B, H, T, D) -> (B, H, T, D)
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                              Scalar scale, Tensor* weights) {
    Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;    // (B, H, T, T): every query against every key
    if (bias.defined()) scores = scores + bias;                 // relative position bias, mask
    const Tensor probabilities = softmax_reference(scores, -1);  // (B, H, T, T): each row sums to 1
    if (weights) *weights = probabilities.detach();
    return matmul(probabilities, v);                            // (B, H, T, D): weighted sums of values
}

// multi_head_attention_reference: split heads -> attend -> merge heads, with reshape and permute.
//   qkv (B, T, 3C) -> (B, T, C), C = heads * D
Tensor multi_head_attention_reference(const Tensor& qkv, int64_t heads, const Tensor& bias, Scalar scale,
                                      Tensor* weights) {
    check(qkv.dim() == 3 && qkv.size(-1) % (3 * heads) == 0, "multi_head_attention_reference: qkv ", qkv.shape(),
          " must be (B, T, 3C) with C a multiple of heads = ", heads);
    const int64_t B = qkv.size(0), T = qkv.size(1), C = qkv.size(2) / 3, D = C / heads;
    // (B, T, 3C) -> (B, T, 3, H, D) -> (3, B, H, T, D): q, k, v, each split into heads
    const Tensor split = permute(reshape(qkv, {B, T, 3, heads, D}), {2, 0, 3, 1, 4});
    const Tensor q = reshape(slice(split, 0, 0, 1), {B, heads, T, D});
    const Tensor k = reshape(slice(split, 0, 1, 2), {B, heads, T, D});
    const Tensor v = reshape(slice(split, 0, 2, 3), {B, heads, T, D});
    const Tensor out = scaled_dot_product_attention_reference(q, k, v, bias, scale, weights);  // (B, H, T, D)
    return reshape(permute(out, {0, 2, 1, 3}), {B, T, C});     // merge heads: (B, T, H, D) -> (B, T, C)
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
