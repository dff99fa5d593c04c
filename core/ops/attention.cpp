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
// way round for free, as small_gemm reads its broadcast operand through any strides.
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
// order, so the results do not depend on the number of threads. The small per-pair products are
// small_gemm calls (core/small_gemm.h): gemm's register tile shaped to the pair, on operands already in
// L1, with no packing and no threads (docs/attention.md, section 8).
//
// Padding: every (T, T) block here has rows of Tp = T rounded up to whole vectors (80 for T = 65 with
// 16-float vectors), so that a row of St is whole vectors, 64-byte aligned, that small_gemm computes and
// the softmax reads without a short tail. The padding lanes (queries T .. Tp-1) hold numbers nobody reads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/simd.h"
#include "core/small_gemm.h"
#include "core/ops.h"
#include "core/ops/fast_math.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// How bias, a shape that broadcasts to (B, H, T, T), is read: element (b, h, i, j) of the broadcast
// bias sits at  (b mod Bb) * sb + h * sh + i * si + j * sj,  Bb = the bias's batch size, with a stride of
// 0 along every dimension where bias has size 1 or lacks the dimension. Example: a (1, H, T, T) relative
// position bias has strides (0, T*T, T, 1); a (T, T) bias (0, 0, T, 1).
// The batch alone may also be repeated: a bias whose batch size Bb divides B (Bb = nW, a Swin mask per
// window) serves pair b with its block b mod Bb, as expand + reshape would lay it out over B / Bb images,
// without the copy.
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
        const bool repeats_over_batch = d == 3 && size > 0 && target % size == 0;  // a per-window bias
        fits = size == target || size == 1 || repeats_over_batch;
    }
    check(fits, op, ": bias ", shape, " does not broadcast to the scores' shape (B, H, T, T) = ", scores, " of ",
          input_name, " ", input_shape, " (each bias size must equal the scores' size or be 1, aligned on the right; ",
          "the batch size may also divide B)");
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
// so the hot loop allocates nothing. Each OpenMP thread gets its own (thread_local). One per use, so
// that no two of a pair's intermediates ever share memory:
//   block       a pair's (T, Tp) block when it is not kept: Pt in inference, dPt then dSt in the backward
//   queries     per-query numbers: T maxima and sums, or dots
//   transposed  an operand transposed, (D, Tp): Q^T in the forward, dO^T in the backward
//   rows_in, rows_out   an operand's rows and a product's rows padded to whole vectors (padded_product)
enum class Scratch { block, queries, transposed, rows_in, rows_out, count };
Scalar* thread_scratch(int64_t n, Scratch which) {
    thread_local std::vector<Scalar> buffers[static_cast<int>(Scratch::count)];
    std::vector<Scalar>& buffer = buffers[static_cast<int>(which)];
    if (buffer.size() < static_cast<size_t>(n)) buffer.resize(static_cast<size_t>(n));
    return buffer.data();
}

// n rounded up to whole vectors: the padded row length Tp of the (T, T) blocks, and Dp of padded rows.
int64_t padded(int64_t n) { return (n + kVectorLanes - 1) / kVectorLanes * kVectorLanes; }

// dst (D, Tp) = src (T, D) transposed, zeros in columns T .. Tp-1:  dst[d * Tp + t] = src[t * ld + d]
void transpose_padded(const Scalar* src, int64_t ld, int64_t T, int64_t D, Scalar* dst, int64_t Tp) {
    for (int64_t d = 0; d < D; ++d) {
        Scalar* row = dst + d * Tp;
        for (int64_t t = 0; t < T; ++t) row[t] = src[t * ld + d];
        for (int64_t t = T; t < Tp; ++t) row[t] = 0;
    }
}

// C (M, D) = (accumulate ? C : 0) + A (M, K) @ B (K, D), B's rows ldb apart, C's ldc apart: small_gemm,
// whose columns are whole vectors. When D is whole vectors (32 channels: 2 of 16 floats), B and C are
// used where they lie. Otherwise B's rows are first copied into rows of Dp = D rounded up, zero padded,
// the product goes to rows of Dp, and its first D columns are added into C: the same sums, the same
// additions.
void padded_product(int64_t M, int64_t D, int64_t K, MatrixView A, const Scalar* B, int64_t ldb, Scalar* C,
                    int64_t ldc, bool accumulate) {
    const int64_t Dp = padded(D);
    if (Dp == D) return small_gemm(M, D / kVectorLanes, K, A, B, ldb, C, ldc, accumulate);
    Scalar* b = thread_scratch(K * Dp, Scratch::rows_in);   // (K, Dp)
    Scalar* c = thread_scratch(M * Dp, Scratch::rows_out);  // (M, Dp)
    for (int64_t k = 0; k < K; ++k)
        for (int64_t d = 0; d < Dp; ++d) b[k * Dp + d] = d < D ? B[k * ldb + d] : 0;
    small_gemm(M, Dp / kVectorLanes, K, A, b, Dp, c, Dp, false);
    for (int64_t i = 0; i < M; ++i)
        for (int64_t d = 0; d < D; ++d) C[i * ldc + d] = accumulate ? C[i * ldc + d] + c[i * Dp + d] : c[i * Dp + d];
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
//   bias_t: the pair's bias transposed and padded, (T, Tp): bias(i, j) at bias_t[j * Tp + i]; or null
//   writes Pt (T, Tp), the probabilities transposed (Pt[j, i] = P[i, j]), and O (T, D), row stride ld_out
// Returns -1, or the first query whose largest score is not finite (every score -inf, i.e. fully masked).
int64_t forward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, int64_t ld_in, const Scalar* bias_t,
                     Scalar scale, int64_t T, int64_t D, Scalar* Pt, Scalar* O, int64_t ld_out) {
    const int64_t Tp = padded(T);
    // St = K @ Q^T   (T, D) @ (D, Tp) -> (T, Tp), written where Pt goes: Q^T transposed once into rows
    // of Tp (zeros past T), so that row d of it is whole vectors, every query's channel d.
    Scalar* Qt = thread_scratch(D * Tp, Scratch::transposed);  // (D, Tp)
    transpose_padded(Q, ld_in, T, D, Qt, Tp);
    small_gemm(T, Tp / kVectorLanes, D, {K, ld_in, 1}, Qt, Tp, Pt, Tp, false);
    Scalar* m = thread_scratch(2 * Tp, Scratch::queries);  // (Tp): each query's largest score
    Scalar* total = m + Tp;                                // (Tp): each query's sum of e^(s - m), then its inverse
    for (int64_t i = 0; i < Tp; ++i) m[i] = -std::numeric_limits<Scalar>::infinity(), total[i] = 0;
    // St[j, :] = St[j, :] * scale + bias[:, j], and m[i] = max over j of St[j, i]: row by row, every query
    // at once. The maximum is exact, so its order does not matter.
    for (int64_t j = 0; j < T; ++j) {
        Scalar* s = Pt + j * Tp;  // (Tp): key j's score for each query
        if (bias_t) {
            const Scalar* b = bias_t + j * Tp;
            for (int64_t i = 0; i < Tp; ++i) s[i] = s[i] * scale + b[i];
        } else {
            for (int64_t i = 0; i < Tp; ++i) s[i] = s[i] * scale;
        }
        for (int64_t i = 0; i < Tp; ++i) m[i] = std::max(m[i], s[i]);
    }
    int64_t bad_query = -1;
    for (int64_t i = 0; i < T; ++i)
        if (!std::isfinite(m[i]) && bad_query < 0) bad_query = i;  // all -inf: 0/0 below; reported by the caller
    // P[i, j] = e^(S[i, j] - m[i]) / sum_j' e^(S[i, j'] - m[i])   (as in softmax.cpp). A -inf score gives
    // e^(-inf) = 0 exactly: a masked key gets probability exactly 0. Each query's sum runs j = 0, 1, 2, ...
    // in its own lane. fast_exp (fast_math.h) vectorises. (The padding lanes hold scores of 0: finite.)
    for (int64_t j = 0; j < T; ++j) {
        Scalar* s = Pt + j * Tp;
        for (int64_t i = 0; i < Tp; ++i) {
            s[i] = fast_exp(s[i] - m[i]);
            total[i] += s[i];
        }
    }
    for (int64_t i = 0; i < Tp; ++i) total[i] = 1 / total[i];
    for (int64_t j = 0; j < T; ++j) {
        Scalar* p = Pt + j * Tp;
        for (int64_t i = 0; i < Tp; ++i) p[i] *= total[i];
    }
    // O = P @ V = Pt^T @ V   (T, T) @ (T, D) -> (T, D); Pt^T is Pt read with swapped strides
    padded_product(T, D, T, {Pt, 1, Tp}, V, ld_in, O, ld_out, false);
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
// Everything (T, T) is held transposed and padded, as in the forward: the dot of query i is a sum down
// column i, and every row is Tp long.
//   Pt: the forward's probabilities, transposed, (T, Tp)
//   dQ, dK, dV: the pair's gradient slices (row stride ld_in, like Q, K, V), or null; added into when
//               `accumulate`, else overwritten (a fresh gradient buffer, see GradAccumulator)
//   dO: row stride ld_out, like O
//   dSt: where dSt (T, Tp) goes for dbias, transposed like Pt, or null
//   work: scratch (T, Tp): dPt, then dSt * scale in place
void backward_pair(const Scalar* Q, const Scalar* K, const Scalar* V, int64_t ld_in, const Scalar* Pt,
                   const Scalar* dO, int64_t ld_out, Scalar scale, int64_t T, int64_t D, Scalar* dQ, Scalar* dK,
                   Scalar* dV, bool accumulate, Scalar* dSt, Scalar* work) {
    const int64_t Tp = padded(T);
    // dV += Pt @ dO   (T, T) (T, D) -> (T, D)
    if (dV) padded_product(T, D, T, {Pt, Tp, 1}, dO, ld_out, dV, ld_in, accumulate);
    // dPt = V @ dO^T   (T, D) @ (D, Tp) -> (T, Tp), dO^T transposed into rows of Tp as Q^T in the forward
    Scalar* dOt = thread_scratch(D * Tp, Scratch::transposed);  // (D, Tp)
    transpose_padded(dO, ld_out, T, D, dOt, Tp);
    small_gemm(T, Tp / kVectorLanes, D, {V, ld_in, 1}, dOt, Tp, work, Tp, false);
    // dot[i] = sum_j dP[i, j] P[i, j]: down column i, j = 0, 1, 2, ..., every query at once
    Scalar* dot = thread_scratch(Tp, Scratch::queries);  // (Tp)
    for (int64_t i = 0; i < Tp; ++i) dot[i] = 0;
    for (int64_t j = 0; j < T; ++j) {
        const Scalar* p = Pt + j * Tp;
        const Scalar* w = work + j * Tp;
        for (int64_t i = 0; i < Tp; ++i) dot[i] += w[i] * p[i];
    }
    for (int64_t j = 0; j < T; ++j) {
        const Scalar* p = Pt + j * Tp;  // (Tp): P[:, j]
        Scalar* w = work + j * Tp;      // (Tp): dP[:, j], then dS[:, j] * scale
        // dS[:, j] = P[:, j] * (dP[:, j] - dot)
        if (dSt) {
            Scalar* ds = dSt + j * Tp;
            for (int64_t i = 0; i < Tp; ++i) ds[i] = p[i] * (w[i] - dot[i]);
        }
        for (int64_t i = 0; i < Tp; ++i) w[i] = p[i] * (w[i] - dot[i]) * scale;
    }
    // dQ += (dSt scale)^T @ K     (T, T) (T, D) -> (T, D)
    if (dQ) padded_product(T, D, T, {work, 1, Tp}, K, ld_in, dQ, ld_in, accumulate);
    // dK += (dSt scale) @ Q       (T, T) (T, D) -> (T, D)
    if (dK) padded_product(T, D, T, {work, Tp, 1}, Q, ld_in, dK, ld_in, accumulate);
}

// dbias += dS summed over the dimensions bias was broadcast along.
//   dSt (B, H, T, Tp), the whole batch's score gradients, each pair's block transposed and padded
//       (element (b, h, i, j) of dS at ((b * H + h) * T + j) * Tp + i);  dbias: bias's gradient, shape
//       layout.shape4
// Parallel over the rows of bias (each iteration owns one row of dbias, T or 1 elements) and, inside a
// row, summed in the fixed order b, h, i, j: the same bits whatever the number of threads.
void reduce_bias_grad(const Scalar* dSt, Scalar* dbias, const BiasLayout& layout, int64_t B, int64_t H, int64_t T) {
    const int64_t Bb = layout.shape4[0], Hb = layout.shape4[1], Ib = layout.shape4[2], Jb = layout.shape4[3];
    const int64_t rows = Bb * Hb * Ib, Tp = padded(T);
#pragma omp parallel for if (B * H * T * T >= kParallelElements)  // iteration r owns dbias row r
    for (int64_t r = 0; r < rows; ++r) {
        const int64_t b0 = r / (Hb * Ib), h0 = r / Ib % Hb, i0 = r % Ib;
        Scalar* out = dbias + r * Jb;
        for (int64_t b = b0; b < B; b += Bb)  // every pair whose block is b0: b0, b0 + Bb, ... (all when Bb = 1)
            for (int64_t h = (Hb == 1 ? 0 : h0); h < (Hb == 1 ? H : h0 + 1); ++h)
                for (int64_t i = (Ib == 1 ? 0 : i0); i < (Ib == 1 ? T : i0 + 1); ++i) {
                    const Scalar* g = dSt + (b * H + h) * T * Tp + i;  // dS[b, h, i, j] = g[j * Tp]
                    if (Jb == T) {
                        for (int64_t j = 0; j < T; ++j) out[j] += g[j * Tp];
                    } else {
                        for (int64_t j = 0; j < T; ++j) out[0] += g[j * Tp];
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
// The products take the row stride as their leading dimension, so the packed layout costs nothing:
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

// The bias as the pairs read it: block (b, h) is the pair's (T, T) bias transposed and padded to rows
// of Tp, bias(b, h, i, j) at [j * Tp + i], zeros past T, so that a row of it adds to a row of St in
// whole vectors. One block for each (b, h) the bias itself has (shape4[0] x shape4[1] of them: a
// (1, H, T, T) relative position bias gives H blocks, shared by every image); block_of picks a pair's.
struct TransposedBias {
    Tensor blocks;  // (Bb, Hb, T, Tp), or undefined when there is no bias
    int64_t Bb = 1, Hb = 1;
    const Scalar* block_of(int64_t b, int64_t h, int64_t T) const {
        if (!blocks.defined()) return nullptr;
        return blocks.data() + ((b % Bb) * Hb + (Hb == 1 ? 0 : h)) * T * padded(T);
    }
};

TransposedBias transposed_bias(const Scalar* bias, const BiasLayout& layout, int64_t T) {
    TransposedBias out;
    if (!bias) return out;
    const int64_t Tp = padded(T);
    out.Bb = layout.shape4[0], out.Hb = layout.shape4[1];
    out.blocks = Tensor::zeros({out.Bb, out.Hb, T, Tp});
    Scalar* dst = out.blocks.data();
    // A full (B, H, T, T) bias is as large as the scores: copied in parallel, each iteration one block.
#pragma omp parallel for collapse(2) if (out.Bb * out.Hb * T * T >= kParallelElements)  // owns block (b, h)
    for (int64_t b = 0; b < out.Bb; ++b)
        for (int64_t h = 0; h < out.Hb; ++h)
            for (int64_t j = 0; j < T; ++j)
                for (int64_t i = 0; i < T; ++i)
                    dst[((b * out.Hb + h) * T + j) * Tp + i] = bias[b * layout.sb + h * layout.sh + i * layout.si +
                                                                     j * layout.sj];
    return out;
}

// Forward of every pair. Each OpenMP iteration owns one pair: its rows of out and its (T, Tp) block of Pt.
//   Pt: (B, H, T, Tp) probabilities, each pair's block transposed and padded, or null when they are not
//       kept (a per-thread scratch instead)
// Returns the first fully masked row as a flat index pair * T + i (the smallest over threads, so the
// same row is reported whatever the thread count), or -1.
int64_t attention_forward(const AttentionShape& a, const Scalar* q, const Scalar* k, const Scalar* v,
                          const Scalar* bias, const BiasLayout& layout, Scalar scale, Scalar* Pt, Scalar* out) {
    const int64_t H = a.H, T = a.T, Tp = padded(T), pairs = a.B * a.H;
    const TransposedBias bias_t = transposed_bias(bias, layout, T);
    int64_t first_bad = std::numeric_limits<int64_t>::max();
#pragma omp parallel for schedule(static) if (pairs * T * T * a.D >= kParallelElements) reduction(min : first_bad)
    for (int64_t pair = 0; pair < pairs; ++pair) {  // iteration `pair` owns out[b, h] and Pt[b, h]
        const int64_t b = pair / H, h = pair % H, in = a.in.offset(b, h);
        if (pair + 1 < pairs) {  // the next pair, which this thread computes next (schedule static)
            const int64_t next = a.in.offset((pair + 1) / H, (pair + 1) % H);
            for (const Scalar* operand : {q, k, v}) prefetch_rows(operand + next, a.in.row, T, a.D);
        }
        Scalar* p = Pt ? Pt + pair * T * Tp : thread_scratch(T * Tp, Scratch::block);
        const int64_t bad = forward_pair(q + in, k + in, v + in, a.in.row, bias_t.block_of(b, h, T), scale, T, a.D,
                                         p, out + a.out.offset(b, h), a.out.row);
        if (bad >= 0) first_bad = std::min(first_bad, pair * T + bad);
    }
    return first_bad == std::numeric_limits<int64_t>::max() ? -1 : first_bad;
}

// The attention weights P (B, H, T, T), for a caller who asks for them: each pair's block of Pt (T, Tp)
// transposed back, a plain tensor (no grad) of its own.
Tensor weights_from(const Tensor& Pt, int64_t T) {
    const int64_t Tp = Pt.size(3), pairs = Pt.numel() / (T * Tp);
    Tensor P = Tensor::empty({Pt.size(0), Pt.size(1), T, T});
    const Scalar* pt = Pt.data();
    Scalar* p = P.data();
    for (int64_t pair = 0; pair < pairs; ++pair)
        for (int64_t i = 0; i < T; ++i)
            for (int64_t j = 0; j < T; ++j) p[(pair * T + i) * T + j] = pt[(pair * T + j) * Tp + i];
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
// Each OpenMP iteration owns one pair: its rows of dq, dk, dv and its (T, Tp) block of dS.
void attention_backward(const AttentionShape& a, const Scalar* q, const Scalar* k, const Scalar* v, const Scalar* Pt,
                        const Scalar* dout, Scalar scale, Scalar* dq, Scalar* dk, Scalar* dv, bool accumulate,
                        const Tensor& bias, const BiasLayout& layout) {
    const int64_t H = a.H, T = a.T, Tp = padded(T), pairs = a.B * a.H;
    const bool want_bias = layout.defined && bias.requires_grad();
    // Where dS goes: when the bias's gradient is wanted, every pair's dSt into one (B, H, T, Tp) scratch,
    // summed over the bias's broadcast dimensions afterwards by reduce_bias_grad (for a full bias, a
    // transposing copy); otherwise dS only lives in thread scratch.
    Tensor dS_all = want_bias ? Tensor::empty({a.B, H, T, Tp}) : Tensor();
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
        backward_pair(q + in, k + in, v + in, a.in.row, Pt + pair * T * Tp, dout + a.out.offset(b, h), a.out.row,
                      scale, T, a.D, dq ? dq + in : nullptr, dk ? dk + in : nullptr, dv ? dv + in : nullptr,
                      accumulate, ds_all ? ds_all + pair * T * Tp : nullptr, thread_scratch(T * Tp, Scratch::block));
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
    Tensor Pt = keep_p ? Tensor::empty({B, H, T, padded(T)}) : Tensor();  // (B, H, T, Tp): each block transposed
    const int64_t bad = attention_forward(a, q.data(), k.data(), v.data(), layout.defined ? bias.data() : nullptr,
                                          layout, scale, keep_p ? Pt.data() : nullptr, out.data());
    if (bad >= 0) throw_fully_masked(kOp, bad, a, layout, "q", q.shape());
    if (weights) *weights = weights_from(Pt, T);  // a plain tensor: P is not part of the graph

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
    Tensor Pt = keep_p ? Tensor::empty({B, H, T, padded(T)}) : Tensor();  // (B, H, T, Tp): each block transposed
    const Scalar* x = qkv.data();
    const int64_t bad = attention_forward(a, x, x + C, x + 2 * C, layout.defined ? bias.data() : nullptr, layout,
                                          scale, keep_p ? Pt.data() : nullptr, out.data());
    if (bad >= 0) throw_fully_masked(kOp, bad, a, layout, "qkv", qkv.shape());
    if (weights) *weights = weights_from(Pt, T);

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

// A (Bb, H', T', T') bias whose batch size Bb divides B but is neither 1 nor B (a mask per window) laid out
// over the whole batch, as the fused op reads it: block b mod Bb for pair b. Any other bias as it is
// (the addition broadcasts it).
static Tensor repeated_over_batch(const Tensor& bias, int64_t B) {
    if (!bias.defined() || bias.dim() != 4 || bias.size(0) == 1 || bias.size(0) == B) return bias;
    const int64_t Bb = bias.size(0);
    check(B % Bb == 0, "scaled_dot_product_attention_reference: bias ", bias.shape(), " has a batch size that does ",
          "not divide the scores' batch ", B);
    const Shape& s = bias.shape();
    const Tensor repeated = expand(reshape(bias, {1, Bb, s[1], s[2], s[3]}), {B / Bb, Bb, s[1], s[2], s[3]});
    return reshape(repeated, {B, s[1], s[2], s[3]});  // (B, H', T', T'): images one after another
}

// scaled_dot_product_attention_reference: attention as the paper writes it, one op at a time.
//   q, k, v (B, H, T, D) -> (B, H, T, D)
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                              Scalar scale, Tensor* weights) {
    Tensor scores = matmul(q, transpose(k, -2, -1)) * scale;    // (B, H, T, T): every query against every key
    if (bias.defined()) scores = scores + repeated_over_batch(bias, q.size(0));  // relative position bias, mask
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
