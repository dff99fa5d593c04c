// matmul: matrix products with batch dimensions broadcast. The arithmetic is core/gemm.cpp's; this file
// decides which products to run, forward and backward.
//
// Dimension legend: M rows of the left operand, K the shared (inner) size, N columns of the right operand.
#include <algorithm>
#include <numeric>
#include <vector>

#include "core/gemm.h"
#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// A row-major (rows, cols) matrix as a gemm operand, or its transpose (cols, rows) with swapped strides.
MatrixView as_matrix(const Scalar* data, int64_t cols) { return {data, cols, 1}; }
MatrixView as_transposed(const Scalar* data, int64_t cols) { return {data, 1, cols}; }

Shape leading(const Tensor& t) { return Shape(t.shape().begin(), t.shape().end() - 2); }

// For the flat index i of a batch of shape `full`, the flat index into `part`, a shape that broadcasts
// to `full` (aligned on the right; a size-1 dimension always maps to 0).
int64_t broadcast_index(int64_t i, const Shape& full, const Shape& part) {
    int64_t index = 0, stride = 1;
    for (int64_t d = static_cast<int64_t>(full.size()) - 1, p = static_cast<int64_t>(part.size()) - 1; d >= 0;
         --d, --p) {
        const int64_t coordinate = i % full[d];
        i /= full[d];
        if (p >= 0) {
            if (part[p] != 1) index += coordinate * stride;
            stride *= part[p];
        }
    }
    return index;
}

// If batch item i of an operand starts at i * stride for one stride (0 when broadcast), return it, so the
// whole batch is one gemm_batched call; otherwise -1 (a mixed broadcast such as (2, 1) against (1, 3)).
int64_t uniform_batch_stride(const Shape& full, const Shape& part, int64_t matrix_size) {
    const int64_t count = numel_of(full);
    if (numel_of(part) == 1) return 0;
    if (numel_of(part) != count) return -1;
    for (int64_t i = 0; i < count; ++i)
        if (broadcast_index(i, full, part) != i) return -1;
    return matrix_size;
}

// out_i (M,N) = (accumulate ? out_i : 0) + A_i (M,K) @ B_i (K,N) for every batch item i of `full`, where
// operand X's item i starts at x_data + broadcast_index(i, full, x_batch) * x_matrix_size.
void batched_product(const Shape& full, int64_t M, int64_t N, int64_t K,  //
                     const Scalar* a_data, const Shape& a_batch, int64_t a_size, bool a_transposed,
                     const Scalar* b_data, const Shape& b_batch, int64_t b_size, bool b_transposed,
                     Scalar* out, bool accumulate) {
    // A stored (M,K) is read row-major; stored (K,M) and marked transposed, it is read as its transpose.
    const MatrixView a = a_transposed ? as_transposed(a_data, M) : as_matrix(a_data, K);
    const MatrixView b = b_transposed ? as_transposed(b_data, K) : as_matrix(b_data, N);
    const int64_t a_stride = uniform_batch_stride(full, a_batch, a_size);
    const int64_t b_stride = uniform_batch_stride(full, b_batch, b_size);
    if (a_stride >= 0 && b_stride >= 0) {
        gemm_batched(numel_of(full), M, N, K, a, a_stride, b, b_stride, out, N, M * N, accumulate);
        return;
    }
    for (int64_t i = 0; i < numel_of(full); ++i) {
        MatrixView a_i = a, b_i = b;
        a_i.data += broadcast_index(i, full, a_batch) * a_size;
        b_i.data += broadcast_index(i, full, b_batch) * b_size;
        gemm(M, N, K, a_i, b_i, out + i * M * N, N, accumulate);
    }
}

// Adds `full_grad` (shape full_batch + (rows, cols)) into x's gradient, summing over the batch dimensions
// that broadcasting stretched x across.
void add_batched_grad(const Tensor& x, const Tensor& full_grad) {
    const Tensor reduced = full_grad.shape() == x.shape() ? full_grad : sum_to_shape(full_grad, x.shape());
    Scalar* dx = x.grad_data();
    const Scalar* g = reduced.data();
    for (int64_t i = 0; i < x.numel(); ++i) dx[i] += g[i];
}

// Both operands have two or more dimensions.
Tensor matmul_batched(const Tensor& a, const Tensor& b) {
    const int64_t M = a.size(-2), K = a.size(-1), N = b.size(-1);
    check(b.size(-2) == K, "matmul: ", a.shape(), " @ ", b.shape(), ": inner sizes differ (", K, " vs ",
          b.size(-2), ")");

    // (.., M, K) @ (K, N): a weight matrix shared by every row. Fold the batch into the rows and do one
    // large product (R, K) @ (K, N), R = numel(a) / K. This is Linear's case and the fastest path.
    if (b.dim() == 2) {
        const int64_t R = a.numel() / std::max<int64_t>(K, 1);
        Shape out_shape = a.shape();
        out_shape.back() = N;
        Tensor out = Tensor::empty(out_shape);
        gemm(R, N, K, as_matrix(a.data(), K), as_matrix(b.data(), N), out.data(), N, false);
        //   da (R,K) += dout (R,N) @ b^T (N,K)
        //   db (K,N) += a^T (K,R) @ dout (R,N)     the sum over all R rows of the outer products
        out.set_backward("matmul", {a, b}, [a, b, R, K, N](const Tensor& dout) {
            if (a.requires_grad())
                gemm(R, K, N, as_matrix(dout.data(), N), as_transposed(b.data(), N), a.grad_data(), K, true);
            if (b.requires_grad())
                gemm(K, N, R, as_transposed(a.data(), K), as_matrix(dout.data(), N), b.grad_data(), N, true);
        });
        return out;
    }

    // General case: batch shapes broadcast, one (M,K) @ (K,N) product per batch item.
    const Shape a_batch = leading(a), b_batch = leading(b);
    for (int64_t i = 1; i <= static_cast<int64_t>(std::min(a_batch.size(), b_batch.size())); ++i) {
        const int64_t x = a_batch[a_batch.size() - i], y = b_batch[b_batch.size() - i];
        check(x == y || x == 1 || y == 1, "matmul: ", a.shape(), " @ ", b.shape(), ": batch dimensions ", a_batch,
              " and ", b_batch, " do not broadcast");
    }
    const Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
    Shape out_shape = batch;
    out_shape.insert(out_shape.end(), {M, N});
    Tensor out = Tensor::empty(out_shape);
    batched_product(batch, M, N, K, a.data(), a_batch, M * K, false, b.data(), b_batch, K * N, false, out.data(),
                    false);
    //   da_i (M,K) += dout_i (M,N) @ b_i^T (N,K)
    //   db_i (K,N) += a_i^T (K,M) @ dout_i (M,N)
    // An operand broadcast over the batch receives the sum of its items' gradients: each item's gradient
    // is computed separately, then summed over the stretched dimensions (sum_to_shape).
    out.set_backward("matmul", {a, b}, [a, b, batch, M, K, N](const Tensor& dout) {
        const Shape a_batch = leading(a), b_batch = leading(b);
        const Shape dout_batch = leading(dout);
        if (a.requires_grad()) {
            const bool direct = a_batch == batch;  // no broadcast: write straight into a's gradient
            Shape full = batch;
            full.insert(full.end(), {M, K});
            Tensor da = direct ? Tensor() : Tensor::empty(full);
            batched_product(batch, M, K, N, dout.data(), dout_batch, M * N, false, b.data(), b_batch, K * N, true,
                            direct ? a.grad_data() : da.data(), direct);
            if (!direct) add_batched_grad(a, da);
        }
        if (b.requires_grad()) {
            const bool direct = b_batch == batch;
            Shape full = batch;
            full.insert(full.end(), {K, N});
            Tensor db = direct ? Tensor() : Tensor::empty(full);
            batched_product(batch, K, N, M, a.data(), a_batch, M * K, true, dout.data(), dout_batch, M * N, false,
                            direct ? b.grad_data() : db.data(), direct);
            if (!direct) add_batched_grad(b, db);
        }
    });
    return out;
}

}  // namespace

// matmul: (.., M, K) @ (.., K, N) -> (.., M, N), batch dimensions broadcast.
//   A 1-D left operand (K) is a row vector (1, K) and a 1-D right operand (K) a column vector (K, 1); the
//   added dimension is removed from the result. reshape records these steps, so their backward is free.
Tensor matmul(const Tensor& a, const Tensor& b) {
    check(a.dim() >= 1 && b.dim() >= 1, "matmul: operands need at least one dimension, got ", a.shape(), " @ ",
          b.shape());
    if (a.dim() == 1 && b.dim() == 1) {
        check(a.size(0) == b.size(0), "matmul: ", a.shape(), " @ ", b.shape(), ": inner sizes differ (",
              a.size(0), " vs ", b.size(0), ")");
        return reshape(matmul_batched(reshape(a, {1, a.size(0)}), reshape(b, {b.size(0), 1})), {});
    }
    if (a.dim() == 1) {
        Tensor out = matmul_batched(reshape(a, {1, a.size(0)}), b);  // (.., 1, N)
        Shape shape = out.shape();
        shape.erase(shape.end() - 2);
        return reshape(out, shape);
    }
    if (b.dim() == 1) {
        Tensor out = matmul_batched(a, reshape(b, {b.size(0), 1}));  // (.., M, 1)
        Shape shape = out.shape();
        shape.pop_back();
        return reshape(out, shape);
    }
    return matmul_batched(a, b);
}


// ---- linear -------------------------------------------------------------------------------------------
//
// Dimension legend: R rows (every leading dimension of x flattened, e.g. B*T), C input features,
// OC output features.

// linear: out = x @ weight^T + bias                                     (torch.nn.functional.linear)
//   x (.., C)  weight (OC, C)  bias (OC) or undefined  ->  out (.., OC);   R = numel(x) / C
//   Index form:  out[r,o] = sum_c x[r,c] weight[o,c] + bias[o]
//   Forward: one gemm (R,C) @ (C,OC), the weight read transposed through its strides (no copy), which adds
//   the bias to each row as it stores a tile of out (gemm's row_bias).
//   Backward, from the index form (docs/layers_math.md derives it):
//     d out[r,o] / d x[r,c] = weight[o,c]   ->  dx      += dout @ weight    (R,OC)@(OC,C)  -> (R,C)
//     d out[r,o] / d w[o,c] = x[r,c]        ->  dweight += dout^T @ x       (OC,R)@(R,C)   -> (OC,C)
//     d out[r,o] / d b[o]   = 1             ->  dbias   += sum_r dout[r,:]  bias was broadcast over rows
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    check(x.defined() && weight.defined(), "linear: x and weight must be defined tensors");
    check(x.dim() >= 1 && weight.dim() == 2, "linear: x ", x.shape(), " needs at least one dimension and weight ",
          weight.shape(), " must be (out_features, in_features)");
    const int64_t C = x.size(-1), OC = weight.size(0);
    check(weight.size(1) == C, "linear: input ", x.shape(), " has ", C, " features but weight ", weight.shape(),
          " expects ", weight.size(1));
    const bool has_bias = bias.defined();
    if (has_bias)
        check(bias.dim() == 1 && bias.size(0) == OC, "linear: bias ", bias.shape(), " must be (", OC,
              ",) for weight ", weight.shape());
    const int64_t R = C == 0 ? 0 : x.numel() / C;
    Shape out_shape = x.shape();
    out_shape.back() = OC;
    Tensor out = Tensor::empty(out_shape);                                   // (R, OC)
    // out (R,OC) = x (R,C) @ weight^T (C,OC) + bias;  weight^T(c,o) = weight[o*C + c]: row stride 1, col
    // stride C. gemm adds the bias to each row as it stores a tile (row_bias), saving a pass over out.
    gemm(R, OC, C, as_matrix(x.data(), C), as_transposed(weight.data(), C), out.data(), OC, false,
         has_bias ? bias.data() : nullptr);
    std::vector<Tensor> inputs = {x, weight};
    if (has_bias) inputs.push_back(bias);
    out.set_backward("linear", std::move(inputs), [x, weight, bias, R, C, OC](const Tensor& dout) {
        const Scalar* g = dout.data();                                       // (R, OC)
        if (x.requires_grad()) {  // dx (R,C) += dout (R,OC) @ weight (OC,C)
            GradAccumulator dx = x.grad_accumulator();
            gemm(R, C, OC, as_matrix(g, OC), as_matrix(weight.data(), C), dx.data(), C, dx.accumulate());
        }
        if (weight.requires_grad()) {  // dweight (OC,C) += dout^T (OC,R) @ x (R,C)
            GradAccumulator dweight = weight.grad_accumulator();
            gemm(OC, C, R, as_transposed(g, OC), as_matrix(x.data(), C), dweight.data(), C, dweight.accumulate());
        }
        if (bias.defined() && bias.requires_grad())  // dbias[o] += sum_r dout[r,o]
            add_column_sums(g, R, OC, bias.grad_data());
    });
    return out;
}

// linear_reference: linear's textbook twin, x @ weight^T + bias, a matmul, a transpose and an add, each
// with its own backward. The fused linear above adds the bias as gemm stores each tile and computes the
// three gradients with two gemm calls and a column sum.
//   x (.., C)  weight (OC, C)  bias (OC) or undefined  ->  (.., OC)
Tensor linear_reference(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const Tensor out = matmul(x, transpose(weight, 0, 1));  // (.., C) @ (C, OC)
    return bias.defined() ? out + bias : out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
