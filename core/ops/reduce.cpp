// Reductions: sum, mean, max and argmax, along one dimension or over every element.
//
// Layout: a reduction along `dim` views the tensor as (outer, n, inner): outer = the product of the sizes
// before dim, n = size(dim), inner = the product after it. Element (o, k, i) sits at offset
// (o * n + k) * inner + i, and the reduction runs over k, leaving (outer, inner):
//     x (2, 3, 4), dim 1  ->  outer 2, n 3, inner 4  ->  out (2, 4), or (2, 1, 4) with keepdim
// A reduction over every element is the same loop with outer = inner = 1 and n = numel.
// softmax.cpp uses the same view; docs/ops_movement.md draws it.
//
// The loops run k in the middle and i innermost: for each k they walk a contiguous run of `inner`
// elements of x, so memory is read in order even when the reduced dim is not the last one.
#include <vector>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// Above kParallelElements (core/ops/op_helpers.h) the outer loop is shared among OpenMP threads. Each
// thread owns whole rows o of the output, and every output element sums its k terms in the same order, so
// the result does not depend on the number of threads.

// x seen as (outer, n, inner) around one dim, and the shape of the reduced result.
struct ReduceView {
    int64_t outer = 1, n = 1, inner = 1;
    Shape out_shape;
    int64_t numel() const { return outer * n * inner; }
};

ReduceView view_along(const Tensor& x, int64_t dim, bool keepdim, const char* op_name) {
    const int64_t rank = x.dim();
    check(dim >= -rank && dim < rank, op_name, ": dim ", dim, " is out of range for a tensor of shape ",
          x.shape(), " (expected a dim in ", -rank, " .. ", rank - 1, ")");
    const int64_t d = dim < 0 ? dim + rank : dim;
    ReduceView v;
    for (int64_t j = 0; j < rank; ++j) {
        const int64_t size = x.shape()[j];
        if (j < d) v.outer *= size;
        if (j == d) v.n = size;
        if (j > d) v.inner *= size;
        if (j != d) v.out_shape.push_back(size);
        if (j == d && keepdim) v.out_shape.push_back(1);
    }
    return v;
}

// Every element in one row: (1, numel, 1), reduced to a scalar of shape ().
ReduceView view_all(const Tensor& x) { return ReduceView{1, x.numel(), 1, Shape{}}; }

// ---- sum and mean -------------------------------------------------------------------------------------

// sum along k: out[o, i] = sum_k x[o, k, i]            x (outer, n, inner) -> out (outer, inner)
// mean:        out[o, i] = (1/n) sum_k x[o, k, i]
//   Each x[o, k, i] appears once, with weight 1 (or 1/n), in out[o, i], so
//     dx[o, k, i] += dout[o, i]          (mean: dout[o, i] / n)
//   the backward spreads each output gradient back over the n elements it summed.
Tensor sum_or_mean(const Tensor& x, const ReduceView& v, bool mean) {
    Tensor out = Tensor::zeros(v.out_shape);
    const Scalar* in = x.data();
    Scalar* sums = out.data();
#pragma omp parallel for if (v.outer > 1 && v.numel() >= kParallelElements)  // each o owns out row o
    for (int64_t o = 0; o < v.outer; ++o) {
        Scalar* out_row = sums + o * v.inner;                                   // (inner)
        for (int64_t k = 0; k < v.n; ++k) {
            const Scalar* x_row = in + (o * v.n + k) * v.inner;                 // (inner)
            for (int64_t i = 0; i < v.inner; ++i) out_row[i] += x_row[i];
        }
        if (mean)
            for (int64_t i = 0; i < v.inner; ++i) out_row[i] /= static_cast<Scalar>(v.n);
    }
    out.set_backward(mean ? "mean" : "sum", {x}, [x, v, mean](const Tensor& dout) {
        if (!x.requires_grad()) return;
        Scalar* dx = x.grad_data();
        const Scalar* g = dout.data();
        const Scalar weight = mean ? Scalar(1) / static_cast<Scalar>(v.n) : Scalar(1);
#pragma omp parallel for if (v.outer > 1 && v.numel() >= kParallelElements)  // each o owns dx[o, :, :]
        for (int64_t o = 0; o < v.outer; ++o) {
            const Scalar* g_row = g + o * v.inner;                              // (inner)
            for (int64_t k = 0; k < v.n; ++k) {
                Scalar* dx_row = dx + (o * v.n + k) * v.inner;                  // (inner)
                for (int64_t i = 0; i < v.inner; ++i) dx_row[i] += weight * g_row[i];
            }
        }
    });
    return out;
}

// ---- max and argmax -----------------------------------------------------------------------------------

// best[o, i] = max_k x[o, k, i], and where[o, i] = the first k that attains it (ties go to the lowest k:
// a later element replaces the best only when strictly greater).
void max_kernel(const Tensor& x, const ReduceView& v, const char* op_name, std::vector<Scalar>& best,
                std::vector<int64_t>& where) {
    check(v.n > 0, op_name, ": cannot take the maximum of no elements: the reduced dim of shape ", x.shape(),
          " has size 0");
    best.assign(v.outer * v.inner, 0);
    where.assign(v.outer * v.inner, 0);
    const Scalar* in = x.data();
#pragma omp parallel for if (v.outer > 1 && v.numel() >= kParallelElements)  // each o owns row o of best, where
    for (int64_t o = 0; o < v.outer; ++o) {
        Scalar* best_row = best.data() + o * v.inner;                           // (inner)
        int64_t* where_row = where.data() + o * v.inner;                        // (inner)
        const Scalar* first = in + o * v.n * v.inner;                           // x[o, 0, :]
        for (int64_t i = 0; i < v.inner; ++i) best_row[i] = first[i];
        for (int64_t k = 1; k < v.n; ++k) {
            const Scalar* x_row = in + (o * v.n + k) * v.inner;                 // x[o, k, :]
            for (int64_t i = 0; i < v.inner; ++i) {
                if (x_row[i] > best_row[i]) {
                    best_row[i] = x_row[i];
                    where_row[i] = k;
                }
            }
        }
    }
}

// max along k: out[o, i] = x[o, where[o, i], i]
//   out depends on one element of each row only (the first maximum), with derivative 1, so
//     dx[o, where[o, i], i] += dout[o, i]
//   and every other element of the row gets nothing. (At a tie the maximum has no derivative; like
//   PyTorch's max along a dim, we send the gradient to the first maximum.)
Tensor max_of(const Tensor& x, const ReduceView& v) {
    std::vector<Scalar> best;
    std::vector<int64_t> where;  // (outer, inner): the k of each maximum, which the backward needs
    max_kernel(x, v, "max", best, where);
    Tensor out = Tensor::from_vector(best, v.out_shape);
    out.set_backward("max", {x}, [x, v, where = std::move(where)](const Tensor& dout) {
        if (!x.requires_grad()) return;
        Scalar* dx = x.grad_data();
        const Scalar* g = dout.data();
#pragma omp parallel for if (v.outer > 1 && v.numel() >= kParallelElements)  // each o owns dx[o, :, :]
        for (int64_t o = 0; o < v.outer; ++o)
            for (int64_t i = 0; i < v.inner; ++i)
                dx[(o * v.n + where[o * v.inner + i]) * v.inner + i] += g[o * v.inner + i];
    });
    return out;
}

}  // namespace

// sum: every element added up                                                        x -> ()
Tensor sum(const Tensor& x) { return sum_or_mean(x, view_all(x), false); }

// sum along dim: out[o, i] = sum_k x[o, k, i]            (.., n, ..) -> (.., ..), or (.., 1, ..) with keepdim
Tensor sum(const Tensor& x, int64_t dim, bool keepdim) {
    return sum_or_mean(x, view_along(x, dim, keepdim, "sum"), false);
}

// mean: sum / numel                                                                  x -> ()
Tensor mean(const Tensor& x) { return sum_or_mean(x, view_all(x), true); }

// mean along dim: out[o, i] = (1/n) sum_k x[o, k, i]     as sum
Tensor mean(const Tensor& x, int64_t dim, bool keepdim) {
    return sum_or_mean(x, view_along(x, dim, keepdim, "mean"), true);
}

// max: the largest element; its gradient goes to the first element that attains it       x -> ()
Tensor max(const Tensor& x) {
    check(x.numel() > 0, "max: x of shape ", x.shape(), " has no elements, so it has no maximum");
    return max_of(x, view_all(x));
}

// max along dim: out[o, i] = max_k x[o, k, i]; gradient to the first maximum     as sum
Tensor max(const Tensor& x, int64_t dim, bool keepdim) { return max_of(x, view_along(x, dim, keepdim, "max")); }

// argmax along dim: out[o, i] = the first k with x[o, k, i] = max_k x[o, k, i], stored as Scalar.   as sum
//   A whole number that does not change when x moves a little: it has no gradient, so no backward is
//   recorded and the result never requires grad.
Tensor argmax(const Tensor& x, int64_t dim, bool keepdim) {
    const ReduceView v = view_along(x, dim, keepdim, "argmax");
    std::vector<Scalar> best;
    std::vector<int64_t> where;
    max_kernel(x, v, "argmax", best, where);
    Tensor out = Tensor::empty(v.out_shape);
    for (int64_t j = 0; j < out.numel(); ++j) out.data()[j] = static_cast<Scalar>(where[j]);
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
