// Elementwise ops: arithmetic between two tensors that broadcast (add, sub, mul, div, where, masked_fill),
// arithmetic with a number, and the pointwise functions neg, pow, exp, log, sqrt.
// docs/ops_elementwise.md explains broadcasting with a worked example, and derives every backward here.
//
// Broadcasting in one paragraph. Shapes are aligned on the right; along each dimension the two sizes must
// be equal, or one of them 1 (a missing dimension counts as 1), and the 1 stretches to the other size:
// (2, 1, 4) with (3, 1) gives (2, 3, 4). Output element (i, j, k) reads, from each operand, the element
// whose index is i, j, k on the dimensions where the operand has the full size and 0 where it has size 1.
// In flat terms: operand offset = sum_d index_d * stride_d, with stride_d = 0 on a stretched dimension.
// The backward is the mirror image: an operand element read by many output elements receives the sum
// of their gradients, so its gradient is dout summed over the stretched dimensions (sum_to_shape).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "core/ops.h"
#include "core/ops/op_helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

namespace {

// Why shapes a and b do not broadcast, or "" when they do; `out` receives the broadcast shape.
std::string broadcast_into(const Shape& a, const Shape& b, Shape& out) {
    const size_t rank = std::max(a.size(), b.size());
    out.assign(rank, 1);
    for (size_t i = 0; i < rank; ++i) {  // i counts from the right: dimension -(i + 1)
        const int64_t size_a = i < a.size() ? a[a.size() - 1 - i] : 1;
        const int64_t size_b = i < b.size() ? b[b.size() - 1 - i] : 1;
        if (size_a != size_b && size_a != 1 && size_b != 1)
            return format_message(size_a, " vs ", size_b, " at dimension -", i + 1);
        out[rank - 1 - i] = size_a == 1 ? size_b : size_a;
    }
    return "";
}

// How operands of other shapes are read as if they had the shape `out`, one row of `out` (its last
// dimension) at a time.
//   strides[k][d]     how far operand k's flat index moves when out's index d grows by one: the
//                     operand's own row-major stride, or 0 where it has size 1 or lacks dimension d
//   row_start(k, r)   operand k's flat index for out element (r, 0), r counting the rows of out
//   step(k)           operand k's stride along the row, so out element (r, j) reads row_start + j * step
// Example: out (2, 3, 4) and operand (3, 1): the operand's row-major strides are (1, 1) for its (3, 1),
// aligned on the right and zeroed where it has size 1 or is missing: strides (0, 1, 0). Out element
// (1, 2, 3) reads operand element 1*0 + 2*1 + 3*0 = 2.
struct BroadcastPlan {
    Shape out;
    int64_t row_length = 1;  // out's last size; 1 for a scalar-shaped out
    int64_t rows = 0;        // numel(out) / row_length
    std::vector<std::vector<int64_t>> strides;

    BroadcastPlan(const Shape& out_shape, const std::vector<Shape>& operands) : out(out_shape) {
        const int64_t rank = static_cast<int64_t>(out.size());
        row_length = rank == 0 ? 1 : out.back();
        rows = row_length == 0 ? 0 : numel_of(out) / row_length;
        for (const Shape& shape : operands) {
            std::vector<int64_t> s(rank, 0);
            int64_t stride = 1;  // the operand's row-major stride, built up from its last dimension
            for (int64_t i = 0; i < static_cast<int64_t>(shape.size()); ++i) {
                const int64_t size = shape[shape.size() - 1 - i];
                s[rank - 1 - i] = size == 1 ? 0 : stride;
                stride *= size;
            }
            strides.push_back(std::move(s));
        }
    }

    int64_t row_start(size_t k, int64_t row) const {
        int64_t offset = 0;
        for (int64_t d = static_cast<int64_t>(out.size()) - 2; d >= 0; --d) {  // peel row's index, innermost first
            offset += (row % out[d]) * strides[k][d];
            row /= out[d];
        }
        return offset;
    }

    int64_t step(size_t k) const { return out.empty() ? 0 : strides[k].back(); }
};


// out = f(a, b) elementwise, with a and b broadcast to out's shape: the forward of add, sub, mul and div.
template <class F>
Tensor broadcast_binary(const Tensor& a, const Tensor& b, const char* op_name, F f) {
    check_defined(a, op_name, "a");
    check_defined(b, op_name, "b");
    const Shape shape = broadcast_shapes(a.shape(), b.shape(), op_name);
    Tensor out = Tensor::empty(shape);
    const Scalar* pa = a.data();
    const Scalar* pb = b.data();
    Scalar* po = out.data();
    const int64_t n = out.numel();
    if (a.shape() == b.shape()) {  // the common case, no broadcasting: element i pairs with element i
#pragma omp parallel for if (n >= kParallelElements)  // iteration i owns po[i]
        for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i], pb[i]);
        return out;
    }
    const BroadcastPlan plan(shape, {a.shape(), b.shape()});
    const int64_t length = plan.row_length, step_a = plan.step(0), step_b = plan.step(1);
#pragma omp parallel for if (n >= kParallelElements)  // iteration r owns row r of out
    for (int64_t r = 0; r < plan.rows; ++r) {
        const Scalar* row_a = pa + plan.row_start(0, r);
        const Scalar* row_b = pb + plan.row_start(1, r);
        Scalar* row_out = po + r * length;
        for (int64_t j = 0; j < length; ++j) row_out[j] = f(row_a[j * step_a], row_b[j * step_b]);
    }
    return out;
}

// into (shape) += grad (a broadcast of shape) summed over the dimensions that broadcasting stretched.
void add_sum_to_shape(const Tensor& grad, const Shape& shape, Scalar* into) {
    const Scalar* g = grad.data();
    const int64_t n = grad.numel();
    if (grad.shape() == shape) {  // nothing was stretched
#pragma omp parallel for if (n >= kParallelElements)  // iteration i owns into[i]
        for (int64_t i = 0; i < n; ++i) into[i] += g[i];
        return;
    }
    // Serial: many grad elements add into the same into[...], and one fixed order keeps the sums
    // identical whatever the number of threads.
    const BroadcastPlan plan(grad.shape(), {shape});
    const int64_t length = plan.row_length, step = plan.step(0);
    for (int64_t r = 0; r < plan.rows; ++r) {
        Scalar* row_into = into + plan.row_start(0, r);
        for (int64_t j = 0; j < length; ++j) row_into[j * step] += g[r * length + j];
    }
}

}  // namespace

// input.grad += grad, summed down to input's shape. The caller checks input.requires_grad() first, so
// that it need not compute `grad` for an input that wants none.
void add_to_grad(const Tensor& input, const Tensor& grad) {
    if (grad.shape() != input.shape()) return add_sum_to_shape(grad, input.shape(), input.grad_data());
    if (input.adopt_grad(grad)) return;  // input had no grad, and grad was no one else's: it is now input's
    GradAccumulator into = input.grad_accumulator();  // nothing broadcast: every element once
    const Scalar* g = grad.data();
    into.add_each(grad.numel(), [g](int64_t i) { return g[i]; });  // input.grad += grad
}

// ---- broadcasting -------------------------------------------------------------------------------------

// broadcast_shapes: the shape two operands broadcast to, NumPy's rules   (torch.broadcast_shapes)
//   (2, 1, 4), (3, 1) -> (2, 3, 4);   (2, 3), () -> (2, 3);   (2, 3), (4,) -> error naming both shapes
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op_name) {
    Shape out;
    const std::string why = broadcast_into(a, b, out);
    check(why.empty(), op_name, ": shapes ", a, " and ", b, " cannot broadcast: ", why);
    return out;
}

// sum_to_shape: grad summed over the dimensions that broadcasting stretched   (PyTorch's sum_to_size)
//   grad (a broadcast of shape) -> shape;  e.g. (2, 3) -> (3,) sums the rows, (2, 3) -> (2, 1) each row
//   The backward of every broadcasting op. It records its own backward too, so it may also be used in a
//   forward pass: sum_to_shape's derivative is the broadcast itself,
//     dgrad[i] += dout[the element of shape that grad element i was summed into]
Tensor sum_to_shape(const Tensor& grad, const Shape& shape) {
    check_defined(grad, "sum_to_shape", "the gradient");
    Shape broadcast;
    const std::string why = broadcast_into(shape, grad.shape(), broadcast);
    check(why.empty() && broadcast == grad.shape(), "sum_to_shape: shape ", shape,
          " does not broadcast to the gradient's shape ", grad.shape(), why.empty() ? "" : ": ", why);
    Tensor out = Tensor::zeros(shape);
    add_sum_to_shape(grad, shape, out.data());
    out.set_backward("sum_to_shape", {grad}, [grad](const Tensor& dout) {
        if (!grad.requires_grad()) return;
        Scalar* dg = grad.grad_data();
        const Scalar* d = dout.data();
        const BroadcastPlan plan(grad.shape(), {dout.shape()});
        const int64_t length = plan.row_length, step = plan.step(0);
        for (int64_t r = 0; r < plan.rows; ++r) {
            const Scalar* row_d = d + plan.row_start(0, r);
            for (int64_t j = 0; j < length; ++j) dg[r * length + j] += row_d[j * step];
        }
    });
    return out;
}

// ---- arithmetic between tensors ------------------------------------------------------------------------

// add: out = a + b                                                         (torch.add)
//   a, b broadcast -> out
//   d(a + b)/da = 1:   da += sum_to_shape(dout, a.shape)
//   d(a + b)/db = 1:   db += sum_to_shape(dout, b.shape)
Tensor add(const Tensor& a, const Tensor& b) {
    Tensor out = broadcast_binary(a, b, "add", [](Scalar x, Scalar y) { return x + y; });
    out.set_backward("add", {a, b}, [a, b](const Tensor& dout) {
        if (a.requires_grad()) add_to_grad(a, dout);
        if (b.requires_grad()) add_to_grad(b, dout);
    });
    return out;
}

// sub: out = a - b                                                         (torch.sub)
//   a, b broadcast -> out
//   d(a - b)/da = 1:    da += sum_to_shape(dout, a.shape)
//   d(a - b)/db = -1:   db += sum_to_shape(-dout, b.shape)
Tensor sub(const Tensor& a, const Tensor& b) {
    Tensor out = broadcast_binary(a, b, "sub", [](Scalar x, Scalar y) { return x - y; });
    out.set_backward("sub", {a, b}, [a, b](const Tensor& dout) {
        if (a.requires_grad()) add_to_grad(a, dout);
        if (b.requires_grad()) add_to_grad(b, neg(dout));
    });
    return out;
}

// mul: out = a * b elementwise                                             (torch.mul)
//   a, b broadcast -> out
//   d(a b)/da = b:   da += sum_to_shape(dout * b, a.shape)      dout * b broadcasts to out's shape
//   d(a b)/db = a:   db += sum_to_shape(dout * a, b.shape)
//   mul(a, a) runs both lines into the same grad: 2 a dout, the derivative of a^2.
Tensor mul(const Tensor& a, const Tensor& b) {
    Tensor out = broadcast_binary(a, b, "mul", [](Scalar x, Scalar y) { return x * y; });
    out.set_backward("mul", {a, b}, [a, b](const Tensor& dout) {
        if (a.requires_grad()) add_to_grad(a, mul(dout, b));
        if (b.requires_grad()) add_to_grad(b, mul(dout, a));
    });
    return out;
}

// div: out = a / b elementwise                                             (torch.div)
//   a, b broadcast -> out; b = 0 gives inf or nan, as in IEEE arithmetic
//   d(a/b)/da = 1/b:       da += sum_to_shape(dout / b, a.shape)
//   d(a/b)/db = -a/b^2:    db += sum_to_shape(-(dout * a) / (b * b), b.shape)
Tensor div(const Tensor& a, const Tensor& b) {
    Tensor out = broadcast_binary(a, b, "div", [](Scalar x, Scalar y) { return x / y; });
    out.set_backward("div", {a, b}, [a, b](const Tensor& dout) {
        if (a.requires_grad()) add_to_grad(a, div(dout, b));
        if (b.requires_grad()) add_to_grad(b, neg(div(mul(dout, a), mul(b, b))));
    });
    return out;
}

// ---- selection -----------------------------------------------------------------------------------------

// where: out = condition != 0 ? a : b, elementwise                          (torch.where)
//   condition, a, b broadcast -> out; condition is read, never differentiated (it is a choice, not a value)
//   Each out element is a copy of one a element or one b element, so its gradient goes to that one:
//     da += sum_to_shape(where(condition, dout, 0), a.shape)
//     db += sum_to_shape(where(condition, 0, dout), b.shape)
Tensor where(const Tensor& condition, const Tensor& a, const Tensor& b) {
    check_defined(condition, "where", "condition");
    check_defined(a, "where", "a");
    check_defined(b, "where", "b");
    Shape shape_ab, shape;
    std::string why = broadcast_into(a.shape(), b.shape(), shape_ab);
    if (why.empty()) why = broadcast_into(condition.shape(), shape_ab, shape);
    check(why.empty(), "where: condition ", condition.shape(), ", a ", a.shape(), " and b ", b.shape(),
          " cannot broadcast: ", why);

    Tensor out = Tensor::empty(shape);
    const BroadcastPlan plan(shape, {condition.shape(), a.shape(), b.shape()});
    const Scalar* pc = condition.data();
    const Scalar* pa = a.data();
    const Scalar* pb = b.data();
    Scalar* po = out.data();
    const int64_t length = plan.row_length, step_c = plan.step(0), step_a = plan.step(1), step_b = plan.step(2);
#pragma omp parallel for if (out.numel() >= kParallelElements)  // iteration r owns row r of out
    for (int64_t r = 0; r < plan.rows; ++r) {
        const Scalar* row_c = pc + plan.row_start(0, r);
        const Scalar* row_a = pa + plan.row_start(1, r);
        const Scalar* row_b = pb + plan.row_start(2, r);
        Scalar* row_out = po + r * length;
        for (int64_t j = 0; j < length; ++j)
            row_out[j] = row_c[j * step_c] != 0 ? row_a[j * step_a] : row_b[j * step_b];
    }
    out.set_backward("where", {a, b}, [condition, a, b](const Tensor& dout) {
        const Tensor zero = Tensor::scalar(0);
        if (a.requires_grad()) add_to_grad(a, where(condition, dout, zero));
        if (b.requires_grad()) add_to_grad(b, where(condition, zero, dout));
    });
    return out;
}

// masked_fill: out = mask != 0 ? value : x, elementwise                    (torch.Tensor.masked_fill)
//   x (any shape), mask broadcasts to x.shape -> x.shape. value may be -infinity: attention masks use it,
//   so that softmax gives the masked positions exactly 0.
//   An element replaced by value no longer depends on x; the others are copies of x:
//     dx += masked_fill(dout, mask, 0)          mask receives no gradient
Tensor masked_fill(const Tensor& x, const Tensor& mask, Scalar value) {
    check_defined(x, "masked_fill", "the input");
    check_defined(mask, "masked_fill", "mask");
    Shape shape;
    const std::string why = broadcast_into(x.shape(), mask.shape(), shape);
    check(why.empty() && shape == x.shape(), "masked_fill: mask ", mask.shape(),
          " does not broadcast to the input's shape ", x.shape(), why.empty() ? "" : ": ", why);

    Tensor out = Tensor::empty(x.shape());
    const BroadcastPlan plan(x.shape(), {mask.shape()});
    const Scalar* px = x.data();
    const Scalar* pm = mask.data();
    Scalar* po = out.data();
    const int64_t length = plan.row_length, step = plan.step(0);
#pragma omp parallel for if (out.numel() >= kParallelElements)  // iteration r owns row r of out
    for (int64_t r = 0; r < plan.rows; ++r) {
        const Scalar* row_m = pm + plan.row_start(0, r);
        for (int64_t j = 0; j < length; ++j)
            po[r * length + j] = row_m[j * step] != 0 ? value : px[r * length + j];
    }
    out.set_backward("masked_fill", {x}, [x, mask](const Tensor& dout) {
        if (x.requires_grad()) add_to_grad(x, masked_fill(dout, mask, 0));
    });
    return out;
}

// ---- arithmetic with a number, and pointwise functions ---------------------------------------------------
// Each is out = f(x), x -> x.shape, with the backward dx += dout * f'(x) (unary_op above).

// add: out = x + s;   d/dx = 1
Tensor add(const Tensor& x, Scalar s) {
    return unary_op(x, "add_scalar", [s](Scalar v) { return v + s; }, [](Scalar, Scalar) { return Scalar(1); });
}

// mul: out = x * s;   d/dx = s
Tensor mul(const Tensor& x, Scalar s) {
    return unary_op(x, "mul_scalar", [s](Scalar v) { return v * s; }, [s](Scalar, Scalar) { return s; });
}

// neg: out = -x;   d/dx = -1
Tensor neg(const Tensor& x) {
    return unary_op(x, "neg", [](Scalar v) { return -v; }, [](Scalar, Scalar) { return Scalar(-1); });
}

// pow: out = x^p   (torch.pow with a number exponent)
//   For a non-integer p, x must be > 0: a negative number has no real non-integer power (the result is
//   nan; not checked per element). An integer p accepts any x: (-2)^3 = -8.
//   d/dx x^p = p x^(p-1). For p = 0, x^0 = 1 is constant and the derivative is 0, also at x = 0, where
//   the formula would give 0 * 0^-1 = 0 * inf = nan.
Tensor pow(const Tensor& x, Scalar exponent) {
    return unary_op(
        x, "pow", [exponent](Scalar v) { return std::pow(v, exponent); },
        [exponent](Scalar v, Scalar) { return exponent == 0 ? Scalar(0) : exponent * std::pow(v, exponent - 1); });
}

// exp: out = e^x;   d/dx e^x = e^x = out
Tensor exp(const Tensor& x) {
    return unary_op(x, "exp", [](Scalar v) { return std::exp(v); }, [](Scalar, Scalar y) { return y; });
}

// log: out = ln x, x > 0 (ln 0 = -inf, ln of a negative = nan);   d/dx ln x = 1/x
Tensor log(const Tensor& x) {
    return unary_op(x, "log", [](Scalar v) { return std::log(v); }, [](Scalar v, Scalar) { return 1 / v; });
}

// sqrt: out = x^(1/2), x >= 0;   d/dx sqrt(x) = 1 / (2 sqrt(x)) = 0.5 / out  (inf at x = 0)
Tensor sqrt(const Tensor& x) {
    return unary_op(
        x, "sqrt", [](Scalar v) { return std::sqrt(v); }, [](Scalar, Scalar y) { return Scalar(0.5) / y; });
}

// ---- operators: thin wrappers over the ops above --------------------------------------------------------

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }
Tensor operator+(const Tensor& x, Scalar s) { return add(x, s); }
Tensor operator+(Scalar s, const Tensor& x) { return add(x, s); }
Tensor operator-(const Tensor& x, Scalar s) { return add(x, -s); }
Tensor operator-(Scalar s, const Tensor& x) { return add(neg(x), s); }
Tensor operator*(const Tensor& x, Scalar s) { return mul(x, s); }
Tensor operator*(Scalar s, const Tensor& x) { return mul(x, s); }
Tensor operator/(const Tensor& x, Scalar s) { return mul(x, 1 / s); }
Tensor operator-(const Tensor& x) { return neg(x); }


// erf: the error function, erf(x) = 2/sqrt(pi) * integral_0^x e^(-u^2) du      (torch.erf)
//   x -> x.shape.   d erf(x)/dx = 2/sqrt(pi) * e^(-x^2)  (the integrand at its upper limit)
//   dx += dout * 2/sqrt(pi) * e^(-x^2). gelu's exact form is 0.5 x (1 + erf(x / sqrt 2)).
Tensor erf(const Tensor& x) {
    const Scalar two_over_sqrt_pi = Scalar(1.1283791670955126);  // 2 / sqrt(pi)
    return unary_op(
        x, "erf", [](Scalar v) { return std::erf(v); },
        [two_over_sqrt_pi](Scalar v, Scalar) { return two_over_sqrt_pi * std::exp(-v * v); });
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
