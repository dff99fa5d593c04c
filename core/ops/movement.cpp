// Movement: ops that move numbers without changing them. reshape, permute, transpose, slice, concat, stack,
// index_select, gather, roll, shifted_copies, unfold (and unfold_reference), unfold_channels_last.
//
// Layout: storage is row-major, so element (i_0, .., i_{r-1}) of a tensor of shape (s_0, .., s_{r-1}) sits
// at offset i_0 * stride_0 + .. + i_{r-1} * stride_{r-1}, where stride_d = s_{d+1} * .. * s_{r-1} (the
// last dim has stride 1). An op along one dim views the tensor as (outer, n, inner) around it, as the
// reductions do (reduce.cpp): element (o, k, i) sits at (o * n + k) * inner + i, and x[o, k, :] is one
// contiguous run of `inner` numbers, which is what slice, concat and index_select copy.
//
// Every output element of these ops is a copy of exactly one input element. So every backward sends each
// element of dout back to the place its forward took it from, adding (+=) into dx: the "inverse scatter"
// of the forward. docs/ops_movement.md tells the story op by op.
#include <algorithm>
#include <vector>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// Above kParallelElements (core/ops/op_helpers.h) a copy loop is shared among OpenMP threads, each owning
// whole rows of its destination. A copy has no summation order, so the result never depends on the thread
// count.

// `dim` as 0 .. rank-1, or an error that shows the shape. (stack passes rank + 1: it makes a new dim.)
int64_t normalize(int64_t dim, int64_t rank, const Shape& shape, const char* op_name) {
    check(dim >= -rank && dim < rank, op_name, ": dim ", dim, " is out of range for shape ", shape,
          " (expected a dim in ", -rank, " .. ", rank - 1, ")");
    return dim < 0 ? dim + rank : dim;
}

// The product of shape[begin .. end): outer = product(shape, 0, d), inner = product(shape, d + 1, rank).
int64_t product(const Shape& shape, int64_t begin, int64_t end) {
    int64_t p = 1;
    for (int64_t d = begin; d < end; ++d) p *= shape[d];
    return p;
}

// Row-major strides: (2, 3, 4) -> (12, 4, 1).
Shape strides_of(const Shape& shape) {
    Shape stride(shape.size(), 1);
    for (int64_t d = static_cast<int64_t>(shape.size()) - 2; d >= 0; --d) stride[d] = stride[d + 1] * shape[d + 1];
    return stride;
}

// ---- the copy kernel of permute and roll ------------------------------------------------------------

// An offset table says where each element of a row-major `dst` comes from in `src`:
//     dst[i_0, .., i_{r-1}] = src[table[0][i_0] + table[1][i_1] + .. + table[r-1][i_{r-1}]]
// table[d] holds one offset per index along dst's dim d, e.g.
//     permute: table[d][i] = i * stride_x[dims[d]]                  dst dim d walks x's dim dims[d]
//     roll:    table[d][i] = ((i - shift_d) mod s_d) * stride_x[d]    index i reads index i - shift
using OffsetTable = std::vector<std::vector<int64_t>>;

// dst = src read through the table (accumulate false), or dst += it (accumulate true: the backwards).
// dst is walked in order, one row (its last dim, length L) at a time. The offset where a row starts in
// src is the sum of the other dims' table entries, looked up from `index`, the row's position, which
// counts like an odometer. When the last dim's entries are consecutive (the last dim stays last and is
// not rolled), a row is one contiguous run of src and the inner loop is a plain copy.
void copy_through(const Scalar* src, Scalar* dst, const Shape& dst_shape, const OffsetTable& table,
                  bool accumulate) {
    const int64_t numel = numel_of(dst_shape);
    const int64_t rank = static_cast<int64_t>(dst_shape.size());
    if (numel == 0) return;
    if (rank == 0) {  // a scalar: its one element
        dst[0] = accumulate ? dst[0] + src[0] : src[0];
        return;
    }
    const int64_t L = dst_shape[rank - 1];
    const int64_t rows = numel / L;
    const std::vector<int64_t>& last = table[rank - 1];
    bool contiguous = true;
    for (int64_t j = 1; j < L; ++j) contiguous = contiguous && last[j] == last[0] + j;
    // Rows go in blocks of about 4096 elements: a block finds its first row's index with a few divisions,
    // then counts on.
    const int64_t block = std::max<int64_t>(1, 4096 / L);
    const int64_t blocks = (rows + block - 1) / block;
#pragma omp parallel for if (numel >= kParallelElements)  // each iteration owns rows r0 .. r1-1 of dst
    for (int64_t b = 0; b < blocks; ++b) {
        const int64_t r0 = b * block, r1 = std::min(rows, r0 + block);
        std::vector<int64_t> index(rank - 1);  // the row's index along dst dims 0 .. rank-2
        for (int64_t d = rank - 2, rest = r0; d >= 0; --d) {
            index[d] = rest % dst_shape[d];
            rest /= dst_shape[d];
        }
        for (int64_t r = r0; r < r1; ++r) {
            int64_t start = 0;  // where the row's elements are in src, but for the last dim's entry
            for (int64_t d = 0; d < rank - 1; ++d) start += table[d][index[d]];
            Scalar* out = dst + r * L;                                          // (L)
            if (contiguous) {
                const Scalar* in = src + start + last[0];                       // (L), contiguous
                if (accumulate)
                    for (int64_t j = 0; j < L; ++j) out[j] += in[j];
                else
                    for (int64_t j = 0; j < L; ++j) out[j] = in[j];
            } else {
                const Scalar* in = src + start;
                if (accumulate)
                    for (int64_t j = 0; j < L; ++j) out[j] += in[last[j]];
                else
                    for (int64_t j = 0; j < L; ++j) out[j] = in[last[j]];
            }
            for (int64_t d = rank - 2; d >= 0; --d) {  // the odometer: on to the next row
                if (++index[d] < dst_shape[d]) break;
                index[d] = 0;
            }
        }
    }
}

// Reads a tensor of shape `shape` with its dims in the order `dims`: dst dim d walks src dim dims[d].
OffsetTable permuted_table(const Shape& shape, const std::vector<int64_t>& dims) {
    const Shape stride = strides_of(shape);
    OffsetTable table(dims.size());
    for (size_t d = 0; d < dims.size(); ++d)
        for (int64_t i = 0; i < shape[dims[d]]; ++i) table[d].push_back(i * stride[dims[d]]);
    return table;
}

// Reads a tensor of shape `shape` rolled by shift[d] along each dim d: index i reads index (i - shift) mod s.
OffsetTable rolled_table(const Shape& shape, const std::vector<int64_t>& shift) {
    const Shape stride = strides_of(shape);
    OffsetTable table(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) {
        for (int64_t i = 0; i < shape[d]; ++i) {
            int64_t from = (i - shift[d]) % shape[d];  // shift[d] is in (-s, s), so this is in (-s, s)
            if (from < 0) from += shape[d];
            table[d].push_back(from * stride[d]);
        }
    }
    return table;
}

}  // namespace

// reshape: the same numbers read with another shape                                  (torch.reshape)
//   x (any) -> shape, numel equal; one size may be -1, inferred as numel / (product of the others).
//   Row-major order does not change, so out's element j is x's element j: out shares x's storage (no
//   copy), and the backward is the same identity, read with x's shape:  dx[j] += dout[j].
Tensor reshape(const Tensor& x, const Shape& shape) {
    Shape target = shape;
    int64_t inferred = -1;  // the position of the -1, if any
    int64_t known = 1;      // the product of the other sizes
    for (size_t j = 0; j < shape.size(); ++j) {
        if (shape[j] == -1) {
            check(inferred < 0, "reshape: only one size may be -1, but ", shape, " has more (x has shape ",
                  x.shape(), ")");
            inferred = static_cast<int64_t>(j);
        } else {
            check(shape[j] >= 0, "reshape: invalid size ", shape[j], " in ", shape, " (x has shape ", x.shape(), ")");
            known *= shape[j];
        }
    }
    if (inferred >= 0) {
        check(known > 0 && x.numel() % known == 0, "reshape: cannot reshape ", x.shape(), " (", x.numel(),
              " elements) into ", shape, ": the other sizes multiply to ", known, ", which does not divide ",
              x.numel(), " evenly");
        target[inferred] = x.numel() / known;
    }
    check(numel_of(target) == x.numel(), "reshape: cannot reshape ", x.shape(), " (", x.numel(),
          " elements) into ", target, " (", numel_of(target), " elements)");
    Tensor out = x.share_storage(target);
    out.set_backward("reshape", {x}, [x](const Tensor& dout) {
        if (!x.requires_grad()) return;
        add_to_grad(x, dout.share_storage(x.shape()));  // dx += dout, read in x's shape
    });
    return out;
}

// permute: out[i_0, .., i_{r-1}] = x[j] with j_{dims[d]} = i_d                       (torch.permute)
//   x (s_0, .., s_{r-1}) -> (s_{dims[0]}, .., s_{dims[r-1]})
//   e.g. qkv (B, T, 3, H, D), dims (2, 0, 3, 1, 4) -> (3, B, H, T, D)
//   Each element only moves, so dout moves back: dx = permute(dout, inverse) with inverse[dims[d]] = d,
//   added into dx, which is walked in order just as out was in the forward.
Tensor permute(const Tensor& x, const std::vector<int64_t>& dims) {
    const int64_t rank = x.dim();
    bool is_permutation = static_cast<int64_t>(dims.size()) == rank;
    std::vector<int64_t> order;  // dims, made non-negative
    std::vector<bool> seen(rank, false);
    for (int64_t d : dims) {
        if (!is_permutation || d < -rank || d >= rank) {
            is_permutation = false;
            break;
        }
        const int64_t nd = d < 0 ? d + rank : d;
        is_permutation = !seen[nd];
        seen[nd] = true;
        order.push_back(nd);
    }
    check(is_permutation, "permute: dims ", dims, " are not a permutation of the ", rank, " dims of x of shape ",
          x.shape(), " (expected each of 0 .. ", rank - 1, " once; negative dims count from the end)");

    Shape out_shape(rank);
    std::vector<int64_t> inverse(rank);
    for (int64_t d = 0; d < rank; ++d) {
        out_shape[d] = x.shape()[order[d]];
        inverse[order[d]] = d;
    }
    Tensor out = Tensor::empty(out_shape);
    copy_through(x.data(), out.data(), out_shape, permuted_table(x.shape(), order), false);
    out.set_backward("permute", {x}, [x, out_shape, inverse](const Tensor& dout) {
        if (!x.requires_grad()) return;
        GradAccumulator dx = x.grad_accumulator();  // dx += permute(dout, inverse)
        copy_through(dout.data(), dx.data(), x.shape(), permuted_table(out_shape, inverse), dx.accumulate());
    });
    return out;
}

// transpose: swaps two dims; the permutation (0, .., dim1, .., dim0, .., r-1)     (torch.transpose)
//   x (.., a, .., b, ..) -> (.., b, .., a, ..);  its own inverse, so the backward transposes back.
Tensor transpose(const Tensor& x, int64_t dim0, int64_t dim1) {
    const int64_t d0 = normalize(dim0, x.dim(), x.shape(), "transpose");
    const int64_t d1 = normalize(dim1, x.dim(), x.shape(), "transpose");
    std::vector<int64_t> dims(x.dim());
    for (int64_t d = 0; d < x.dim(); ++d) dims[d] = d;
    std::swap(dims[d0], dims[d1]);
    return permute(x, dims);
}

// slice: out[o, j, i] = x[o, start + j * step, i],  j = 0 .. count-1     (x[.., start:end:step, ..])
//   x (.., n, ..) -> (.., count, ..);  start, end as in Python: negative counts from the end, then both
//   are clamped into [0, n]; count = ceil((end - start) / step), or 0 when end <= start.
//   Each out element copies a different x element (step >= 1), so
//     dx[o, start + j * step, i] += dout[o, j, i]
//   and the elements the slice skipped get nothing: they stay at zero.
Tensor slice(const Tensor& x, int64_t dim, int64_t start, int64_t end, int64_t step) {
    const int64_t d = normalize(dim, x.dim(), x.shape(), "slice");
    check(step >= 1, "slice: step ", step, " must be at least 1 (slicing x of shape ", x.shape(), " along dim ",
          dim, ")");
    const int64_t n = x.shape()[d];
    const auto clamp_bound = [n](int64_t bound) { return std::clamp<int64_t>(bound < 0 ? bound + n : bound, 0, n); };
    start = clamp_bound(start);
    end = clamp_bound(end);
    const int64_t count = end > start ? (end - start - 1) / step + 1 : 0;
    const int64_t outer = product(x.shape(), 0, d), inner = product(x.shape(), d + 1, x.dim());
    Shape out_shape = x.shape();
    out_shape[d] = count;
    Tensor out = Tensor::empty(out_shape);
    const Scalar* in = x.data();
    Scalar* o_data = out.data();
#pragma omp parallel for if (out.numel() >= kParallelElements)  // each o owns out[o, :, :]
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < count; ++j)
            std::copy_n(in + (o * n + start + j * step) * inner, inner, o_data + (o * count + j) * inner);
    out.set_backward("slice", {x}, [x, outer, n, inner, start, step, count](const Tensor& dout) {
        if (!x.requires_grad()) return;
        Scalar* dx = x.grad_data();
        const Scalar* g = dout.data();
#pragma omp parallel for if (dout.numel() >= kParallelElements)  // each o owns dx[o, :, :]
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t j = 0; j < count; ++j) {
                Scalar* dx_row = dx + (o * n + start + j * step) * inner;       // (inner)
                const Scalar* g_row = g + (o * count + j) * inner;              // (inner)
                for (int64_t i = 0; i < inner; ++i) dx_row[i] += g_row[i];
            }
        }
    });
    return out;
}

// concat: the tensors one after another along dim                                     (torch.cat)
//   xs[k] (.., n_k, ..) -> (.., n_0 + n_1 + .., ..); every other size equal.
//   For each o, tensor k contributes one contiguous run of n_k * inner numbers, at offset
//   (n_0 + .. + n_{k-1}) * inner of out's row o:
//     out[o, offset_k + j] = x_k[o, j]      so      dx_k[o, j] += dout[o, offset_k + j]
//   The backward splits dout into the pieces and hands each to the input it came from (if it requires grad).
Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "concat: no tensors to concatenate");
    const Shape& first = xs[0].shape();
    const int64_t rank = xs[0].dim();
    const int64_t d = normalize(dim, rank, first, "concat");
    Shape out_shape = first;
    out_shape[d] = 0;
    for (size_t k = 0; k < xs.size(); ++k) {
        const Shape& shape = xs[k].shape();
        bool matches = static_cast<int64_t>(shape.size()) == rank;
        for (int64_t j = 0; matches && j < rank; ++j) matches = j == d || shape[j] == first[j];
        check(matches, "concat: shapes must match except along dim ", dim, ", but tensor 0 has shape ", first,
              " and tensor ", k, " has shape ", shape);
        out_shape[d] += shape[d];
    }
    const int64_t outer = product(first, 0, d), inner = product(first, d + 1, rank);
    std::vector<int64_t> run(xs.size());  // run[k] = n_k * inner: tensor k's share of one row o
    std::vector<const Scalar*> in(xs.size());
    for (size_t k = 0; k < xs.size(); ++k) {
        run[k] = xs[k].shape()[d] * inner;
        in[k] = xs[k].data();
    }
    const int64_t row = out_shape[d] * inner;  // one row o of out
    Tensor out = Tensor::empty(out_shape);
    Scalar* o_data = out.data();
#pragma omp parallel for if (out.numel() >= kParallelElements)  // each o owns out[o, :, :]
    for (int64_t o = 0; o < outer; ++o) {
        int64_t offset = 0;
        for (size_t k = 0; k < xs.size(); ++k) {
            std::copy_n(in[k] + o * run[k], run[k], o_data + o * row + offset);
            offset += run[k];
        }
    }
    out.set_backward("concat", xs, [xs, run, outer, row](const Tensor& dout) {
        const Scalar* g = dout.data();
        int64_t offset = 0;
        for (size_t k = 0; k < xs.size(); ++k) {
            if (xs[k].requires_grad()) {
                Scalar* dx = xs[k].grad_data();
                const int64_t len = run[k];
#pragma omp parallel for if (outer * len >= kParallelElements)  // each o owns dx_k[o, :]
                for (int64_t o = 0; o < outer; ++o)
                    for (int64_t j = 0; j < len; ++j) dx[o * len + j] += g[o * row + offset + j];
            }
            offset += run[k];
        }
    });
    return out;
}

// stack: the tensors side by side along a new dim                                    (torch.stack)
//   xs[k] s, all equal -> s with a new dim of size xs.size() inserted at dim (dim may be rank: last).
//   Composed: each x gets a size-1 dim at `dim` (a reshape, no copy), then concat along it; the
//   backward is theirs.
Tensor stack(const std::vector<Tensor>& xs, int64_t dim) {
    check(!xs.empty(), "stack: no tensors to stack");
    const Shape& first = xs[0].shape();
    for (size_t k = 0; k < xs.size(); ++k)
        check(xs[k].shape() == first, "stack: every tensor must have the same shape, but tensor 0 has shape ",
              first, " and tensor ", k, " has shape ", xs[k].shape());
    const int64_t d = normalize(dim, xs[0].dim() + 1, first, "stack");
    Shape with_new_dim = first;
    with_new_dim.insert(with_new_dim.begin() + d, 1);
    std::vector<Tensor> parts;
    for (const Tensor& x : xs) parts.push_back(reshape(x, with_new_dim));
    return concat(parts, d);
}

// index_select: out[o, j, i] = x[o, indices[j], i]                             (torch.index_select)
//   x (.., n, ..), indices (m), each in 0 .. n-1 -> (.., m, ..)
//   An index may repeat: x[o, k, i] is then read several times, and its gradient is the sum of all
//   those reads:  dx[o, indices[j], i] += dout[o, j, i]   for every j.
//   When the indices are a permutation of 0 .. n-1 (each read exactly once: Swin's window order,
//   nn/window.h), every element of dx is added into exactly once, so a fresh gradient need not be
//   zero-filled first (Tensor::grad_accumulator).
Tensor index_select(const Tensor& x, int64_t dim, const std::vector<int64_t>& indices) {
    const int64_t d = normalize(dim, x.dim(), x.shape(), "index_select");
    const int64_t n = x.shape()[d];
    for (int64_t index : indices)
        check(index >= 0 && index < n, "index_select: index ", index, " is out of range for dim ", dim,
              " of size ", n, " of x of shape ", x.shape());
    const int64_t m = static_cast<int64_t>(indices.size());
    const int64_t outer = product(x.shape(), 0, d), inner = product(x.shape(), d + 1, x.dim());
    Shape out_shape = x.shape();
    out_shape[d] = m;
    Tensor out = Tensor::empty(out_shape);
    const Scalar* in = x.data();
    Scalar* o_data = out.data();
#pragma omp parallel for if (out.numel() >= kParallelElements)  // each o owns out[o, :, :]
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t j = 0; j < m; ++j)
            std::copy_n(in + (o * n + indices[j]) * inner, inner, o_data + (o * m + j) * inner);
    // Is every index read exactly once (a permutation)? Then the backward writes each row of dx once.
    bool permutation = m == n;
    std::vector<char> seen(static_cast<size_t>(n), 0);
    for (int64_t j = 0; permutation && j < m; ++j) {
        permutation = !seen[indices[j]];
        seen[indices[j]] = 1;
    }
    out.set_backward("index_select", {x}, [x, indices, outer, n, m, inner, permutation](const Tensor& dout) {
        if (!x.requires_grad()) return;
        GradAccumulator dx = x.grad_accumulator(/*every_element_once=*/permutation);
        const Scalar* g = dout.data();
        // Repeated indices add into the same row, in the order j = 0, 1, ..; rows o never collide.
#pragma omp parallel for if (dout.numel() >= kParallelElements)  // each o owns dx[o, :, :]
        for (int64_t o = 0; o < outer; ++o) {
            for (int64_t j = 0; j < m; ++j) {
                const int64_t dx_row = (o * n + indices[j]) * inner;            // dx[o, indices[j], :]
                const Scalar* g_row = g + (o * m + j) * inner;                  // (inner)
                for (int64_t i = 0; i < inner; ++i) dx[dx_row + i] += g_row[i];
            }
        }
    });
    return out;
}

// gather: out[p] = x[p with its index along dim replaced by index[p]]             (torch.gather)
//   For a matrix and dim 1: out[a][b] = x[a][index[a][b]]; for dim 0: out[a][b] = x[index[a][b]][b].
//   x (s_0, .., s_{r-1}), index (t_0, .., t_{r-1}) with t_d <= s_d for d != dim -> index.shape
//   Each out element reads one x element, at offsets[p]; two may read the same one (index repeats), so
//     dx[offsets[p]] += dout[p]
//   in one serial pass (a parallel one could have two threads adding into the same element).
Tensor gather(const Tensor& x, int64_t dim, const Tensor& index) {
    const int64_t rank = x.dim();
    const int64_t d = normalize(dim, rank, x.shape(), "gather");
    check(index.dim() == rank, "gather: index of shape ", index.shape(), " must have as many dims as x of shape ",
          x.shape());
    for (int64_t j = 0; j < rank; ++j)
        check(j == d || index.shape()[j] <= x.shape()[j], "gather: index of shape ", index.shape(),
              " is larger than x of shape ", x.shape(), " in dim ", j, " (only dim ", dim, ", the one gathered",
              " along, may be larger)");
    const int64_t n = x.shape()[d];
    const Shape x_stride = strides_of(x.shape());
    const int64_t count = index.numel();
    std::vector<int64_t> offsets(count);  // offsets[p]: where out element p comes from in x
    std::vector<int64_t> at(rank, 0);     // p's position in index, counted like an odometer
    for (int64_t p = 0; p < count; ++p) {
        const Scalar value = index.data()[p];
        check(value >= 0 && value < static_cast<Scalar>(n) && value == static_cast<Scalar>(static_cast<int64_t>(value)),
              "gather: index value ", value, " at position ", p, " of index ", index.shape(), " is not a whole ",
              "number in 0 .. ", n - 1, " (dim ", dim, " of x of shape ", x.shape(), " has size ", n, ")");
        int64_t offset = static_cast<int64_t>(value) * x_stride[d];
        for (int64_t j = 0; j < rank; ++j)
            if (j != d) offset += at[j] * x_stride[j];
        offsets[p] = offset;
        for (int64_t j = rank - 1; j >= 0; --j) {
            if (++at[j] < index.shape()[j]) break;
            at[j] = 0;
        }
    }
    Tensor out = Tensor::empty(index.shape());
    for (int64_t p = 0; p < count; ++p) out.data()[p] = x.data()[offsets[p]];
    out.set_backward("gather", {x}, [x, offsets = std::move(offsets)](const Tensor& dout) {
        if (!x.requires_grad()) return;
        Scalar* dx = x.grad_data();
        const Scalar* g = dout.data();
        for (size_t p = 0; p < offsets.size(); ++p) dx[offsets[p]] += g[p];
    });
    return out;
}

// roll: a cyclic shift; along each dims[k], element i moves to (i + shifts[k]) mod s    (torch.roll)
//   x -> x.shape;  out[.., i, ..] = x[.., (i - shift) mod s, ..] along each rolled dim, all in one pass.
//   Shifts may be negative or larger than the size (they wrap); a dim named twice rolls by the sum.
//   Swin's cyclic shift is roll(x, {-M/2, -M/2}, {1, 2}) on (B, H, W, C), undone by roll(.., {M/2, M/2}).
//   Rolling moves each element once, so rolling dout back undoes it:  dx += roll(dout, -shifts, dims).
Tensor roll(const Tensor& x, const std::vector<int64_t>& shifts, const std::vector<int64_t>& dims) {
    check(shifts.size() == dims.size(), "roll: ", shifts.size(), " shifts ", shifts, " but ", dims.size(),
          " dims ", dims, " for x of shape ", x.shape(), "; give one shift per dim");
    const int64_t rank = x.dim();
    std::vector<int64_t> shift(rank, 0);  // the total shift of each dim of x, in (-s, s)
    for (size_t k = 0; k < dims.size(); ++k) {
        const int64_t d = normalize(dims[k], rank, x.shape(), "roll");
        const int64_t s = x.shape()[d];
        if (s > 0) shift[d] = (shift[d] + shifts[k] % s) % s;
    }
    std::vector<int64_t> back(rank);  // the backward's shifts
    for (int64_t d = 0; d < rank; ++d) back[d] = -shift[d];
    Tensor out = Tensor::empty(x.shape());
    copy_through(x.data(), out.data(), x.shape(), rolled_table(x.shape(), shift), false);
    out.set_backward("roll", {x}, [x, back](const Tensor& dout) {
        if (!x.requires_grad()) return;
        // roll moves every element exactly once: a fresh gradient is written, not zero-filled and added to
        GradAccumulator dx = x.grad_accumulator(/*every_element_once=*/true);
        copy_through(dout.data(), dx.data(), x.shape(), rolled_table(x.shape(), back), dx.accumulate());
    });
    return out;
}


// shifted_copies: the image beside four copies of it shifted diagonally by s pixels, zero-filled
//   (Lee, Lee and Song 2021, "Vision Transformer for Small-Size Datasets": shifted patch tokenization)
//   images (B, C, H, W) -> (B, 5C, H, W);  channel group g in 0..4 holds the image read at an offset:
//     out[b, g*C + c, y, x] = images[b, c, y + dy_g, x + dx_g]   (0 where that pixel is outside the image)
//     (dy_g, dx_g) = (0, 0), (-s, -s), (-s, +s), (+s, -s), (+s, +s)
//   so group 1 shows the image moved s pixels down and right: its pixel (y, x) is the original (y-s, x-s).
//   Cut into P x P patches afterwards, each patch then also holds the s pixels across each of its borders.
// Backward: each output element copied one input element (or none), so dout flows back to where it came
// from, summed over the five groups:
//     dx[b, c, y, x] += sum_g dout[b, g*C + c, y - dy_g, x - dx_g]   (over the g where that is inside)
Tensor shifted_copies(const Tensor& images, int64_t shift) {
    check_defined(images, "shifted_copies", "images");
    check(images.dim() == 4, "shifted_copies: images ", images.shape(), ", expected (B, C, H, W)");
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    check(shift >= 0 && shift < H && shift < W, "shifted_copies: shift ", shift, " for images ", images.shape(),
          ", expected 0 <= shift < min(H, W)");
    constexpr int64_t kGroups = 5;
    const int64_t dy[kGroups] = {0, -shift, -shift, shift, shift}, dx[kGroups] = {0, -shift, shift, -shift, shift};
    // One output row (b, g, c, y) reads input row (b, c, y + dy) from column x0 = max(0, -dx) to x1, where
    // x + dx stays inside 0 .. W-1; a row whose y + dy is outside the image stays 0.
    const auto for_each_row = [=](auto&& visit) {  // visit(out_row, in_row, x0, x1, dx): offsets, in elements
        for (int64_t b = 0; b < B; ++b)
            for (int64_t g = 0; g < kGroups; ++g)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t y = 0; y < H; ++y) {
                        const int64_t source_y = y + dy[g];
                        if (source_y < 0 || source_y >= H) continue;
                        const int64_t out_row = ((b * kGroups + g) * C + c) * H + y, in_row = (b * C + c) * H + source_y;
                        visit(out_row * W, in_row * W, std::max<int64_t>(0, -dx[g]), std::min(W, W - dx[g]), dx[g]);
                    }
    };
    Tensor out = Tensor::zeros({B, kGroups * C, H, W});
    Scalar* o = out.data();
    const Scalar* in = images.data();
    for_each_row([o, in](int64_t out_at, int64_t in_at, int64_t x0, int64_t x1, int64_t shift_x) {
        for (int64_t x = x0; x < x1; ++x) o[out_at + x] = in[in_at + x + shift_x];
    });
    out.set_backward("shifted_copies", {images}, [images, for_each_row](const Tensor& dout) {
        if (!images.requires_grad()) return;
        Scalar* d_images = images.grad_data();
        const Scalar* g = dout.data();
        for_each_row([d_images, g](int64_t out_at, int64_t in_at, int64_t x0, int64_t x1, int64_t shift_x) {
            for (int64_t x = x0; x < x1; ++x) d_images[in_at + x + shift_x] += g[out_at + x];
        });
    });
    return out;
}

// unfold: every k x k window of the zero-padded images, one row per window       (im2col; PyTorch's
//   F.unfold returns the transpose, (B, C*k*k, L))
//   images (B, C, H, W) -> (B, Ho*Wo, C*k*k),  Ho = (H + 2p - k) / s + 1,  Wo = (W + 2p - k) / s + 1
//     out[b, i*Wo + j, (c*k + u)*k + v] = images[b, c, i*s - p + u, j*s - p + v]   (0 where that is outside)
//   Window n = i*Wo + j starts at pixel (i*s - p, j*s - p); its numbers go in (c, u, v) order, the order of
//   a convolution's weight (OC, C, k, k). So a convolution is unfold, then one matrix product:
//     conv2d(images, weight, bias, stride s, padding p) = linear(unfold(images, k, s, p), weight as (OC, C*k*k), bias)
//   With k = s = P and p = 0 the windows are the patches: unfold(images, P, P, 0) = patchify(images, P).
// Backward: each output element copied one pixel (or a padding zero, which has no gradient), and a pixel
// sits in up to ceil(k/s)^2 windows, so it receives the sum of its copies' gradients         (col2im):
//     dx[b, c, y, x] += sum over (i, j, u, v) with i*s - p + u = y and j*s - p + v = x of
//                       dout[b, i*Wo + j, (c*k + u)*k + v]
namespace {

// The windows' grid, Ho x Wo, of H x W images padded by p: Ho = (H + 2p - k) / s + 1, Wo likewise. Refuses
// (naming `op`) a kernel, stride or padding that make no sense and a window larger than the padded image.
struct WindowGrid {
    int64_t rows, columns;
};
WindowGrid window_grid(const char* op, const Tensor& images, int64_t H, int64_t W, int64_t kernel, int64_t stride,
                       int64_t padding) {
    check(kernel > 0 && stride > 0 && padding >= 0 && padding < kernel, op, ": kernel ", kernel, ", stride ", stride,
          ", padding ", padding, ", expected kernel >= 1, stride >= 1 and 0 <= padding < kernel");
    check(H + 2 * padding >= kernel && W + 2 * padding >= kernel, op, ": a ", kernel, " x ", kernel,
          " window does not fit images ", images.shape(), " padded by ", padding);
    return {(H + 2 * padding - kernel) / stride + 1, (W + 2 * padding - kernel) / stride + 1};
}

// The copy both unfolds make, image by image, into out of shape (B, L, row length), zeros where no run
// lands (the padding): for_each_run(visit) calls visit(pixel, element) for every run of `run` numbers that
// starts at offset pixel of one image's block and at offset element of its windows' block. The backward
// adds each run's gradient back onto its pixels, so a pixel in several windows receives their sum.
// Iteration b owns image b's blocks: the threads never write the same number.
template <class ForEachRun>
Tensor copy_runs(const char* op, const Tensor& images, const Shape& out_shape, int64_t run, ForEachRun for_each_run) {
    const int64_t B = images.size(0), image_numel = images.numel() / std::max<int64_t>(1, B);
    Tensor out = Tensor::zeros(out_shape);
    const int64_t out_numel = out.numel() / std::max<int64_t>(1, B);
    Scalar* o = out.data();
    const Scalar* in = images.data();
#pragma omp parallel for if (B * out_numel >= kParallelElements)  // iteration b owns image b's windows
    for (int64_t b = 0; b < B; ++b) {
        const Scalar* pixels = in + b * image_numel;
        Scalar* windows = o + b * out_numel;
        for_each_run([=](int64_t pixel, int64_t element) {
            for (int64_t c = 0; c < run; ++c) windows[element + c] = pixels[pixel + c];
        });
    }
    out.set_backward(op, {images}, [images, for_each_run, B, run, image_numel, out_numel](const Tensor& dout) {
        if (!images.requires_grad()) return;
        Scalar* d_images = images.grad_data();
        const Scalar* g = dout.data();
#pragma omp parallel for if (B * out_numel >= kParallelElements)  // iteration b owns image b's gradient
        for (int64_t b = 0; b < B; ++b) {
            Scalar* d_pixels = d_images + b * image_numel;
            const Scalar* d_windows = g + b * out_numel;
            for_each_run([=](int64_t pixel, int64_t element) {
                for (int64_t c = 0; c < run; ++c) d_pixels[pixel + c] += d_windows[element + c];
            });
        }
    });
    return out;
}

}  // namespace

Tensor unfold(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding) {
    check_defined(images, "unfold", "images");
    check(images.dim() == 4, "unfold: images ", images.shape(), ", expected (B, C, H, W)");
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    const WindowGrid grid = window_grid("unfold", images, H, W, kernel, stride, padding);
    const int64_t Ho = grid.rows, Wo = grid.columns;
    const int64_t k = kernel, L = Ho * Wo, row_length = C * k * k;
    // Visits one image's pairs (input pixel, output element) that copy, window by window: visit(pixel, element),
    // offsets within image b's (C, H, W) block and its (L, C*k*k) block.
    const auto for_each_copy = [=](auto&& visit) {
        for (int64_t i = 0; i < Ho; ++i)
            for (int64_t j = 0; j < Wo; ++j)
                for (int64_t c = 0; c < C; ++c)
                    for (int64_t u = 0; u < k; ++u) {
                        const int64_t y = i * stride - padding + u;
                        if (y < 0 || y >= H) continue;                     // a padding row: zeros
                        const int64_t element = (i * Wo + j) * row_length + (c * k + u) * k;
                        for (int64_t v = 0; v < k; ++v) {
                            const int64_t x = j * stride - padding + v;
                            if (x >= 0 && x < W) visit((c * H + y) * W + x, element + v);
                        }
                    }
    };
    return copy_runs("unfold", images, {B, L, row_length}, 1, for_each_copy);  // runs of one number
}

// unfold_reference: unfold's textbook twin, from primitives, each with its own backward:
//   pad        concat zero rows above and below, then zero columns left and right     (B, C, H+2p, W+2p)
//   offsets    for each (u, v) of the kernel, the strided slice [u::s, v::s] of the padded image: the number
//              at offset (u, v) of every window                                        k*k x (B, C, Ho, Wo)
//   stack      the k*k slices after the channels                                       (B, C, k*k, Ho, Wo)
//   rows       the window index to the front, each row in (c, u, v) order              (B, Ho*Wo, C*k*k)
// The backward is theirs: the permute's, the stack's split, each slice's scatter (where windows overlap,
// a pixel's gradients meet in the padded image's gradient and add), the concat's split.
Tensor unfold_reference(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding) {
    check_defined(images, "unfold_reference", "images");
    check(images.dim() == 4, "unfold_reference: images ", images.shape(), ", expected (B, C, H, W)");
    const int64_t B = images.size(0), C = images.size(1), H = images.size(2), W = images.size(3);
    const WindowGrid grid = window_grid("unfold_reference", images, H, W, kernel, stride, padding);
    const int64_t Ho = grid.rows, Wo = grid.columns;
    const int64_t k = kernel, s = stride, p = padding;
    Tensor padded = images;                                                                // (B, C, H, W)
    if (p > 0) {
        const Tensor rows_of_zeros = Tensor::zeros({B, C, p, W});
        const Tensor columns_of_zeros = Tensor::zeros({B, C, H + 2 * p, p});
        padded = concat({rows_of_zeros, images, rows_of_zeros}, 2);                         // (B, C, H+2p, W)
        padded = concat({columns_of_zeros, padded, columns_of_zeros}, 3);                   // (B, C, H+2p, W+2p)
    }
    std::vector<Tensor> offsets;
    for (int64_t u = 0; u < k; ++u)
        for (int64_t v = 0; v < k; ++v) {
            const Tensor rows = slice(padded, 2, u, u + s * (Ho - 1) + 1, s);              // (B, C, Ho, W+2p)
            offsets.push_back(slice(rows, 3, v, v + s * (Wo - 1) + 1, s));                 // (B, C, Ho, Wo)
        }
    const Tensor stacked = stack(offsets, 2);                                              // (B, C, k*k, Ho, Wo)
    return reshape(permute(stacked, {0, 3, 4, 1, 2}), {B, Ho * Wo, C * k * k});            // (B, L, C*k*k)
}

// unfold_channels_last: unfold for images stored channels last, the layout a LayerNorm over each pixel's
// channels leaves them in (the conv stem's inner layers)
//   images (B, H, W, C) -> (B, Ho*Wo, k*k*C),  Ho, Wo as in unfold
//     out[b, i*Wo + j, (u*k + v)*C + c] = images[b, i*s - p + u, j*s - p + v, c]   (0 where that is outside)
//   The same windows as unfold(permute(images, {0, 3, 1, 2}), k, s, p), with each row's numbers in (u, v, c)
//   order instead of (c, u, v): a window is k*k runs of C channels, each run contiguous in both tensors,
//   so it copies in k*k blocks. The matching convolution weight is (OC, k, k, C):
//     conv2d(permute(images, NCHW), weight, bias, s, p)
//       = linear(unfold_channels_last(images, k, s, p), permute(weight, {0, 2, 3, 1}) as (OC, k*k*C), bias)
// Backward: as unfold's, each pixel's run receives the sum of its copies' gradients:
//     dx[b, y, x, c] += sum over (i, j, u, v) with i*s - p + u = y and j*s - p + v = x of
//                       dout[b, i*Wo + j, (u*k + v)*C + c]
Tensor unfold_channels_last(const Tensor& images, int64_t kernel, int64_t stride, int64_t padding) {
    check_defined(images, "unfold_channels_last", "images");
    check(images.dim() == 4, "unfold_channels_last: images ", images.shape(), ", expected (B, H, W, C)");
    const int64_t B = images.size(0), H = images.size(1), W = images.size(2), C = images.size(3);
    const WindowGrid grid = window_grid("unfold_channels_last", images, H, W, kernel, stride, padding);
    const int64_t Ho = grid.rows, Wo = grid.columns;
    const int64_t k = kernel, L = Ho * Wo, row_length = k * k * C;
    // Visits one image's runs of C numbers that copy: visit(pixel, element), the offsets of the run's first
    // number within image b's (H, W, C) block and its (L, k*k*C) block; runs in the padding are skipped.
    const auto for_each_run = [=](auto&& visit) {
        for (int64_t i = 0; i < Ho; ++i)
            for (int64_t j = 0; j < Wo; ++j)
                for (int64_t u = 0; u < k; ++u) {
                    const int64_t y = i * stride - padding + u;
                    if (y < 0 || y >= H) continue;  // a padding row: zeros
                    for (int64_t v = 0; v < k; ++v) {
                        const int64_t x = j * stride - padding + v;
                        if (x >= 0 && x < W) visit((y * W + x) * C, (i * Wo + j) * row_length + (u * k + v) * C);
                    }
                }
    };
    return copy_runs("unfold_channels_last", images, {B, L, row_length}, C, for_each_run);
}

// expand: x broadcast to `shape`, copied                                 (torch.Tensor.expand, then clone)
//   x -> shape, where x broadcasts to shape (aligned on the right; x's size-1 or missing dims stretch).
//   e.g. the CLS token (1, 1, D) -> (B, 1, D), or a bias (4) -> (2, 3, 4).
//   Element out[i_0, .., i_{r-1}] copies x at the same index with 0 on every stretched dimension:
//     out = x read through the offset table  table[d][i] = (x has size 1 or lacks d ? 0 : i * stride_x)
//   Backward: x[j] was copied to every output element that maps to it, so it receives their sum:
//     dx += sum_to_shape(dout, x.shape)
Tensor expand(const Tensor& x, const Shape& shape) {
    check_defined(x, "expand", "x");
    const int64_t rank = static_cast<int64_t>(shape.size()), x_rank = x.dim();
    bool ok = x_rank <= rank;
    for (int64_t i = 1; ok && i <= x_rank; ++i) {  // dimension -i of both
        const int64_t from = x.shape()[x_rank - i], to = shape[rank - i];
        ok = from == to || (from == 1 && to >= 0);
    }
    for (int64_t d = 0; ok && d < rank; ++d) ok = shape[d] >= 0;
    check(ok, "expand: x of shape ", x.shape(), " does not broadcast to shape ", shape,
          " (aligned on the right, each size of x must equal the target's or be 1)");
    const Shape x_stride = strides_of(x.shape());
    OffsetTable table(rank);
    for (int64_t d = 0; d < rank; ++d) {
        const int64_t xd = d - (rank - x_rank);  // x's dimension aligned with d, or < 0 if x lacks it
        const bool stretched = xd < 0 || x.shape()[xd] == 1;
        table[d].resize(shape[d]);
        for (int64_t i = 0; i < shape[d]; ++i) table[d][i] = stretched ? 0 : i * x_stride[xd];
    }
    Tensor out = Tensor::empty(shape);
    copy_through(x.data(), out.data(), shape, table, false);
    out.set_backward("expand", {x}, [x](const Tensor& dout) {
        if (!x.requires_grad()) return;
        const Tensor summed = sum_to_shape(dout.detach(), x.shape());  // fixed order: serial in sum_to_shape
        Scalar* dx = x.grad_data();
        const Scalar* g = summed.data();
        for (int64_t i = 0; i < x.numel(); ++i) dx[i] += g[i];
    });
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
