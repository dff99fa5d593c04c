// Exercise: an op of your own.                                    make exercise NAME=tanh_op
//
// Every op in core/ops/ ends the same way: it computes its output, then records how to go back, with
//     out.set_backward("name", {inputs...}, [captured values](const Tensor& dout) { ... });
// The closure receives dout = dL/dout and adds dL/dinput into each input's gradient buffer,
// input.grad_data(), which starts at zero (docs/autograd.md).
// Your job: tanh as a new op, y = tanh(x) elementwise, forward and backward.
//
// Hints, in the order you may want them:
//   1. Forward: Tensor y = Tensor::empty(x.shape()); then y.data()[i] = std::tanh(x.data()[i]).
//   2. d tanh(x) / dx = 1 - tanh(x)^2: the backward needs only the output. Capture y.detach() in the
//      closure, never y itself: y owns the closure, so that would be a cycle that is never freed.
//   3. Add (+=) into x.grad_data(), never assign: if x is used twice, both backwards add their share.
//
//   x (any shape)  ->  y (that shape)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor tanh_op(const Tensor& x) {
    // Your code here: compute y, record its backward with y.set_backward, return y.
    not_implemented("tanh_op");
}

}  // namespace learner

// The grader (examples/exercises/grading/tanh_op.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, tanh_op_info, [](Grader& grader) { grade_tanh_op(learner::tanh_op, grader); });
}
