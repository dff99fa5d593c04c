#pragma once
// The worked example of docs/autograd.md: one neuron and a squared error, small enough to do by hand.
// The program examples/autograd_by_hand_f64.cpp prints its numbers and draws its graph; the test
// tests/test_autograd_by_hand.cpp runs the same functions and checks that the chapter quotes exactly what
// they print, and that the picture docs/img/autograd-graph.svg is exactly what they draw.
//
//   w (2,) parameter   x (2,) input   y () the target
//   p = w * x        (2,)   elementwise
//   z = sum(p)       ()     so z = w . x, a linear layer with one output and no bias
//   h = tanh(z)      ()     the neuron's output
//   d = h - y        ()     the error
//   L = d * d        ()     the squared error, written as a product so that d is used twice
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {
namespace autograd_by_hand {

// Every tensor of the expression, by the name the chapter gives it.
struct Expression {
    Tensor w, x, y;        // leaves
    Tensor p, z, h, d, L;  // made by ops; L is the loss
};

inline Expression forward() {
    Tensor w = Tensor::from_vector({0.5, 0.25}, {2}).requires_grad_();  // a parameter: we want dL/dw
    Tensor x = Tensor::from_vector({1, 2}, {2});                        // an input: no gradient wanted
    Tensor y = Tensor::scalar(1);                                       // the target
    Tensor p = w * x;                                                   // mul   [0.5, 0.5]
    Tensor z = sum(p);                                                  // sum   1
    Tensor h = tanh(z);                                                 // tanh  0.761594
    Tensor d = h - y;                                                   // sub   -0.238406
    Tensor L = d * d;                                                   // mul   0.0568373
    return {w, x, y, p, z, h, d, L};
}

// The forward pass, then the backward pass keeping what training lets go of, so there is something to
// print and to draw: the intermediate tensors' grads (retain_grad) and the graph (retain_graph).
inline Expression forward_and_backward() {
    Expression e = forward();
    for (Tensor* intermediate : {&e.p, &e.z, &e.h, &e.d, &e.L}) intermediate->retain_grad();
    e.L.backward(/*retain_graph=*/true);
    return e;
}

// The names the chapter uses, for the table and the picture.
inline std::vector<std::pair<Tensor, std::string>> names(const Expression& e) {
    return {{e.w, "w"}, {e.x, "x"}, {e.y, "y"}, {e.p, "p"}, {e.z, "z"}, {e.h, "h"}, {e.d, "d"}, {e.L, "L"}};
}

// The picture docs/img/autograd-graph.svg: the graph after the backward pass, each box with its numbers.
inline std::string figure() {
    const Expression e = forward_and_backward();
    return e.L.to_svg(names(e));
}

// A tensor's numbers as the table prints them: "1", "[0.5, 0.25]"; 6 significant digits.
inline std::string numbers(const Tensor& t) {
    if (!t.defined()) return "none";
    std::ostringstream text;
    if (t.dim() == 0) {
        text << t.item();
        return text.str();
    }
    text << "[";
    for (int64_t i = 0; i < t.numel(); ++i) text << (i ? ", " : "") << t.data()[i];
    text << "]";
    return text.str();
}

// `text` and spaces up to `width` characters (at least one space): the table's columns.
inline std::string pad(const std::string& text, size_t width) {
    return text + std::string(text.size() < width ? width - text.size() : 1, ' ');
}

// What the program prints: every tensor with its value and its gradient, then one step of gradient
// descent on w and the loss it gives.
inline std::string report() {
    const Expression e = forward_and_backward();
    std::ostringstream out;
    out << "tensor  op     shape  value           grad = dL/dtensor\n";
    for (const auto& [tensor, name] : names(e))
        out << pad(name, 8) << pad(tensor.op_name(), 7) << pad(to_string(tensor.shape()), 7)
            << pad(numbers(tensor), 16) << numbers(tensor.grad()) << "\n";

    // One step of gradient descent, w <- w - 0.1 dL/dw, on a copy of w. The new loss is only looked at,
    // so it is computed under NoGradGuard: no graph is recorded.
    Tensor w = e.w.clone();
    for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] -= Scalar(0.1) * e.w.grad().data()[i];
    NoGradGuard no_grad;
    const Tensor d = tanh(sum(w * e.x)) - e.y;
    out << "\nafter one step w <- w - 0.1 * dL/dw:  w = " << numbers(w) << ", L = " << (d * d).item() << "\n";
    return out.str();
}

}  // namespace autograd_by_hand
}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
