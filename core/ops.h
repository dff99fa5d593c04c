#pragma once
// ops.h: the table of contents of patchgrad. Every differentiable op, one line each, with its shape
// contract. Each op's forward, derivation and backward sit together in the file named in its section.
//
// Conventions:
//   * Shapes are written outermost first, as in PyTorch: (B, T, C).
//   * "broadcast" means NumPy/PyTorch broadcasting: shapes are aligned on the right, and a dimension of
//     size 1 (or a missing one) stretches to match the other operand. (2, 1, 4) and (3, 1) give (2, 3, 4).
//   * A `dim` may be negative: -1 is the last dimension.
//   * Index tensors (argmax's result, gather's index, cross_entropy's targets) hold whole numbers stored as
//     Scalar; float32 represents every integer up to 2^24 = 16,777,216 exactly.
//   * Bad shapes throw std::invalid_argument with every shape involved in the message.
#include <vector>

#include "tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// ---- elementwise, broadcasting (core/ops/elementwise.cpp) ---------------------------------------------
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op_name);  // (2,1,4),(3,1) -> (2,3,4)
Tensor add(const Tensor& a, const Tensor& b);        // a, b broadcast -> out
Tensor sub(const Tensor& a, const Tensor& b);        // a, b broadcast -> out
Tensor mul(const Tensor& a, const Tensor& b);        // a, b broadcast -> out
Tensor div(const Tensor& a, const Tensor& b);        // a, b broadcast -> out
Tensor add(const Tensor& x, Scalar s);               // x -> x.shape
Tensor mul(const Tensor& x, Scalar s);               // x -> x.shape
Tensor neg(const Tensor& x);                         // x -> x.shape
Tensor pow(const Tensor& x, Scalar exponent);        // x -> x.shape; x > 0 unless exponent is an integer
Tensor exp(const Tensor& x);                         // x -> x.shape
Tensor log(const Tensor& x);                         // x > 0 -> x.shape
Tensor sqrt(const Tensor& x);                        // x >= 0 -> x.shape
Tensor erf(const Tensor& x);                         // the error function; x -> x.shape
// where(condition, a, b): a where condition != 0, else b. condition, a, b broadcast -> out; no gradient
// flows into condition.
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b);
// masked_fill(x, mask, value): value where mask != 0, else x. mask broadcasts to x.shape -> x.shape
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value);
// The sum of `grad` over the dimensions that broadcasting stretched, giving back `shape`: the backward
// of every broadcasting op. grad (broadcast of shape) -> shape
Tensor sum_to_shape(const Tensor& grad, const Shape& shape);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& x, Scalar s);
Tensor operator+(Scalar s, const Tensor& x);
Tensor operator-(const Tensor& x, Scalar s);
Tensor operator-(Scalar s, const Tensor& x);
Tensor operator*(const Tensor& x, Scalar s);
Tensor operator*(Scalar s, const Tensor& x);
Tensor operator/(const Tensor& x, Scalar s);
Tensor operator-(const Tensor& x);

// ---- activations (core/ops/activation.cpp) -----------------------------------------------------------
Tensor relu(const Tensor& x);                        // max(x, 0); x -> x.shape
Tensor sigmoid(const Tensor& x);                     // 1 / (1 + e^-x); x -> x.shape
Tensor tanh(const Tensor& x);                        // x -> x.shape
Tensor gelu(const Tensor& x);                        // x * Phi(x), the exact erf form; x -> x.shape
Tensor gelu_reference(const Tensor& x);              // 0.5 x (1 + erf(x / sqrt 2)) from ops: gelu's twin

// ---- reductions (core/ops/reduce.cpp) ------------------------------------------------------------------
Tensor sum(const Tensor& x);                                       // x -> ()
Tensor sum(const Tensor& x, int64_t dim, bool keepdim = false);    // (.., n, ..) -> (.., ..) or (.., 1, ..)
Tensor mean(const Tensor& x);                                      // x -> ()
Tensor mean(const Tensor& x, int64_t dim, bool keepdim = false);   // as sum
Tensor max(const Tensor& x);                                       // x -> (); grad to the first maximum
Tensor max(const Tensor& x, int64_t dim, bool keepdim = false);    // as sum; grad to the first maximum
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim = false); // as sum; no gradient; first maximum

// ---- movement (core/ops/movement.cpp) ------------------------------------------------------------------
// reshape: same numbers, new shape; one size may be -1 (inferred). Shares the storage: no copy.
Tensor reshape(const Tensor& x, const Shape& shape);               // x -> shape (numel equal)
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims); // out.shape[i] = x.shape[dims[i]]
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1);     // swaps two dimensions
// slice: elements start, start+step, ... < end along dim (start/end clamped like Python; step > 0)
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step = 1);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);         // equal shapes but along dim
Tensor stack(const std::vector<Tensor>& xs, int64_t dim);          // equal shapes -> new dim of size xs.size()
// index_select: the slices x[.., indices[k], ..] along dim, in order; indices may repeat.
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& indices);
// gather: out[i][j] = x[i][index[i][j]] (dim 1 of a matrix; any rank): index has x's rank, and every size
// but dim's no larger than x's -> index.shape
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index);
// expand: x broadcast to `shape` (copied), e.g. the CLS token (1, 1, D) -> (B, 1, D); backward sums back.
Tensor expand(const Tensor& x, const Shape& shape);                // x broadcasts to shape -> shape
// roll: cyclic shift; element i along dims[k] moves to (i + shifts[k]) mod size (torch.roll). Swin's shift.
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims);
// shifted_copies: the image and four diagonally shifted copies (by s pixels, zero-filled) as 5C channels:
// the ViT's shifted patch tokens (--patch-tokens shifted). (B, C, H, W) -> (B, 5C, H, W)
Tensor shifted_copies(const Tensor& images, int64_t shift);
// unfold: every k x k window of the images (stride s, zero padding p) as a row, in (c, u, v) order: im2col,
// which makes a convolution one matrix product (the ViT's --stem conv). (B, C, H, W) -> (B, Ho*Wo, C*k*k)
Tensor unfold(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding);
// unfold_reference: the same from concat (the padding), strided slices and stack, the textbook twin.
Tensor unfold_reference(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding);
// unfold_channels_last: the same windows of images stored (B, H, W, C), each row in (u, v, c) order: k*k
// runs of C channels (the conv stem after its first layer). (B, H, W, C) -> (B, Ho*Wo, k*k*C)
Tensor unfold_channels_last(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding);

// ---- matrix products (core/ops/matmul.cpp; the kernel is core/gemm.cpp) --------------------------------
// matmul: (.., M, K) @ (.., K, N) -> (.., M, N), batch dimensions broadcast; a 1-D operand is
// treated as a row (left) or a column (right) vector and that dimension is dropped from the result.
Tensor matmul(const Tensor& a, const Tensor& b);
// linear: x @ weight^T + bias, fused (torch.nn.functional.linear). bias may be undefined (no bias).
//   x (.., C)  weight (OC, C)  bias (OC)  ->  (.., OC)
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// linear_reference: matmul(x, transpose(weight)) + bias from ops, the textbook twin of linear.
Tensor linear_reference(const Tensor& x, const Tensor& weight, const Tensor& bias);

// ---- normalisation (core/ops/layer_norm.cpp) ---------------------------------------------------------
// layer_norm over the last dimension: (x - mean) / sqrt(var + eps) * weight + bias, var biased (/C).
//   x (.., C)  weight (C)  bias (C)  ->  x.shape
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Scalar eps);
// layer_norm_reference: the same from mean, sub, mul, div and sqrt, the textbook twin.
Tensor layer_norm_reference(const Tensor& x, const Tensor& weight, const Tensor& bias, Scalar eps);

// ---- attention (core/ops/attention.cpp) ------------------------------------------------------------------
// Scaled dot-product attention, fused: softmax(q @ k^T * scale + bias) @ v, one (T, T) score matrix per
// (batch, head), never all of them at once.
//   q, k, v (B, H, T, D)   bias: undefined, or broadcastable to (B, H, T, T) (relative position bias,
//   -inf/-100 entries as a mask)   ->  (B, H, T, D)
//   A bias's batch size may also divide B: pair b then reads its block b mod Bb (Swin: a mask per window,
//   the same for every image), as if the bias were repeated over the batch.
// If `weights` is not null it receives the attention probabilities (B, H, T, T) (for pictures).
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                    Scalar scale, Tensor* weights = nullptr);
// The same attention read straight from a packed projection, as a transformer block has it, without
// the permutes: heads split from the last dimension, and the output's heads side by side.
//   qkv (B, T, 3C) = [q | k | v] per token, C = heads * D   ->  (B, T, C)
Tensor multi_head_attention(const Tensor& qkv, int64_t heads, const Tensor& bias, Scalar scale,
                            Tensor* weights = nullptr);
// The textbook twins, from matmul, transpose, softmax_reference, reshape, permute and slice: the paper's
// steps one op at a time (split heads -> scores -> bias/mask -> softmax -> weighted values -> merge heads).
Tensor scaled_dot_product_attention_reference(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                                              Scalar scale, Tensor* weights = nullptr);
Tensor multi_head_attention_reference(const Tensor& qkv, int64_t heads, const Tensor& bias, Scalar scale,
                                      Tensor* weights = nullptr);

// ---- softmax (core/ops/softmax.cpp) ----------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim);        // e^x / sum e^x along dim; x -> x.shape
Tensor log_softmax(const Tensor& x, int64_t dim);    // x - log sum e^x along dim; x -> x.shape
// cross_entropy: the mean over rows of -sum_c q_c log softmax(logits)_c, with the target distribution
// q = (1 - smoothing) * onehot(target) + smoothing / C. Fused with log_softmax.
//   logits (N, C)  targets (N) whole numbers in [0, C)  ->  ()
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, Scalar label_smoothing = 0);
// The textbook twins, from exp, log, max, sum and mean: the fused ops above compute the same in one pass.
Tensor softmax_reference(const Tensor& x, int64_t dim);
Tensor log_softmax_reference(const Tensor& x, int64_t dim);
Tensor cross_entropy_reference(const Tensor& logits, const Tensor& targets, Scalar label_smoothing = 0);

// ---- regularisation (core/ops/drop_path.cpp) -------------------------------------------------------------
// drop_path (stochastic depth): in training, each sample b of x is kept whole with probability 1 - rate and
// scaled by 1/(1 - rate), or zeroed whole: B draws from rng, in sample order. Not training, or rate 0: x
// itself, nothing drawn. The gradient is the same per-sample scale.   x (B, ...), 0 <= rate < 1 -> x.shape
Tensor drop_path(const Tensor& x, double rate, bool training, Rng& rng);
// The rate of each of `blocks` residual blocks, rising linearly from 0 at the first to max_rate at the last:
// max_rate * i / (blocks - 1); a lone block gets max_rate.   -> (blocks) rates
std::vector<double> stochastic_depth_rates(double max_rate, int64_t blocks);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
