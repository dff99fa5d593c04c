#pragma once
// Helpers shared by the op files in core/ops/.
#include <algorithm>
#include <vector>

#include "core/ops.h"
#include "core/parallel.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// sum over k = 0 .. n-1 of term(k), in a fixed shape that vectorises: kSumLanes running sums side by side
// (lane l takes k = l, l + kSumLanes, l + 2 kSumLanes, ...), then the lanes added pairwise (l + 8 into l,
// then l + 4, l + 2, l + 1). A single running sum `total += term(k)` is a chain where each addition waits
// for the previous one, and the compiler may not regroup it (floating-point addition is not associative).
// The grouping depends only on n, never on the thread count, so results stay bit-identical across threads;
// for a row of 128 channels it made LayerNorm's forward and backward about twice as fast (docs/performance.md).
constexpr int64_t kSumLanes = 16;
template <class Term>
inline Scalar lane_sum(int64_t n, Term term) {
    Scalar lanes[kSumLanes] = {};
    int64_t k = 0;
    for (; k + kSumLanes <= n; k += kSumLanes)
        for (int64_t l = 0; l < kSumLanes; ++l) lanes[l] += term(k + l);
    // The last n % kSumLanes terms, in a loop of fixed length with a test: a loop of variable length made
    // the compiler keep the lanes in memory, and attention's forward (T = 65: one term left per row) ran
    // 5% slower.
    for (int64_t l = 0; l < kSumLanes; ++l)
        if (k + l < n) lanes[l] += term(k + l);
    for (int64_t width = kSumLanes / 2; width > 0; width /= 2)
        for (int64_t l = 0; l < width; ++l) lanes[l] += lanes[l + width];
    return lanes[0];
}

// out[c] += sum over r of x[r * C + c], for x (R, C) row-major: the gradient of a bias added to every row.
// The rows are cut into fixed chunks of kChunkRows; each chunk sums its rows in order into its own partial
// row, and the partials are then added in chunk order. Threads take whole chunks and read whole rows, so
// memory is read once, front to back, and every sum has the same order whatever the number of threads.
inline void add_column_sums(const Scalar* x, int64_t R, int64_t C, Scalar* out) {
    constexpr int64_t kChunkRows = 64;
    const int64_t chunks = (R + kChunkRows - 1) / kChunkRows;
    std::vector<Scalar> partials(size_t(chunks * C), Scalar(0));  // (chunks, C)
    Scalar* partial = partials.data();
#pragma omp parallel for if (R * C >= kParallelElements)  // iteration owns partial row `chunk`
    for (int64_t chunk = 0; chunk < chunks; ++chunk) {
        Scalar* sums = partial + chunk * C;
        for (int64_t r = chunk * kChunkRows; r < std::min(R, (chunk + 1) * kChunkRows); ++r)
            for (int64_t c = 0; c < C; ++c) sums[c] += x[r * C + c];
    }
    for (int64_t chunk = 0; chunk < chunks; ++chunk)
        for (int64_t c = 0; c < C; ++c) out[c] += partial[chunk * C + c];
}

// input.grad += grad, summed down to input's shape when grad is a broadcast of it: the backward of every
// op whose gradient is itself a tensor (add, mul, reshape, ...). core/ops/elementwise.cpp.
void add_to_grad(const Tensor& input, const Tensor& grad);

inline void check_defined(const Tensor& t, const char* op_name, const char* which) {
    check(t.defined(), op_name, ": ", which, " is an undefined tensor (default-constructed, or a grad not yet ",
          "computed)");
}

// out = f(x) elementwise, and the backward dx += dout * df(x, out): every pointwise op (elementwise.cpp, activation.cpp).
// df also receives the output because some derivatives are cheapest from it (d/dx e^x = e^x). The
// closure keeps out's numbers through out.detach(), which shares them without owning out's node
// (capturing `out` itself would be a reference cycle, never freed).
template <class F, class DF>
Tensor unary_op(const Tensor& x, const char* op_name, F f, DF df) {
    check_defined(x, op_name, "the input");
    Tensor out = Tensor::empty(x.shape());
    const Scalar* px = x.data();
    Scalar* po = out.data();
    const int64_t n = x.numel();
#pragma omp parallel for if (n >= kParallelElements)  // iteration i owns po[i]
    for (int64_t i = 0; i < n; ++i) po[i] = f(px[i]);
    const Tensor saved_out = out.detach();
    out.set_backward(op_name, {x}, [x, saved_out, df](const Tensor& dout) {
        if (!x.requires_grad()) return;
        GradAccumulator dx = x.grad_accumulator();
        const Scalar* xv = x.data();
        const Scalar* yv = saved_out.data();
        const Scalar* g = dout.data();
        dx.add_each(x.numel(), [=](int64_t i) { return g[i] * df(xv[i], yv[i]); });   // dx += dout * f'(x)
    });
    return out;
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
