// Exercise: LayerNorm's backward.                                make exercise NAME=layer_norm_backward
//
// The forward (core/ops/layer_norm.cpp), over the last dimension, for each row of C numbers:
//     mean = (1/C) sum_k x_k        var = (1/C) sum_k (x_k - mean)^2        rstd = 1 / sqrt(var + eps)
//     xhat_k = (x_k - mean) rstd    out_k = xhat_k weight_k + bias_k
// Your job: given x, weight, eps and dout = dL/dout, return dL/dx, dL/dweight and dL/dbias.
//
// Hints, in the order you may want them:
//   1. weight and bias are the easy part: every row uses them, so their gradients sum over the rows.
//   2. For x, go through xhat: dxhat = dout * weight. Every xhat_j of a row depends on every x_k, through
//      the mean and through rstd. docs/layers_math.md, section 2, derives the two mean terms.
//   3. Recompute mean, rstd and xhat from x first; loops over rows (R = x.numel() / C) are the clearest.
//
//   x (.., C)  weight (C)  dout (.., C)  ->  dx (.., C), dweight (C), dbias (C)
#include "examples/exercises/exercise.h"

namespace learner {

LayerNormGradients layer_norm_backward(const Tensor& x, const Tensor& weight, const Tensor& dout, double eps) {
    // Your code here: fill dx, dweight and dbias and return them.
    not_implemented("layer_norm_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/layer_norm_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, layer_norm_backward_info,
                        [](Grader& grader) { grade_layer_norm_backward(learner::layer_norm_backward, grader); });
}
