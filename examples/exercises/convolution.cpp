// Exercise: a convolution as one matrix product (im2col).                 make exercise NAME=convolution
//
// The forward of a convolution with a k x k kernel, stride s and zero padding p, for images (B, C, H, W):
// output position (i, j) reads the window whose top-left pixel is (i*s - p, j*s - p), pixels outside the
// image being 0, and
//     out[b, i*Wo + j, e] = bias[e] + sum_{c,u,v} weight[e, (c*k + u)*k + v] * images[b, c, i*s - p + u, j*s - p + v]
// with Ho = (H + 2p - k) / s + 1 rows and Wo = (W + 2p - k) / s + 1 columns of positions (docs/convolution.md).
// Your job: compute out without loops over the numbers, from concat, slice, stack, permute, reshape and
// matmul (and +): copy every window into a row, then one product. The grader also runs autograd backwards
// through your function and compares with central differences. (The library's own op for the copy is
// unfold, core/ops.h; do not call it here: build it.)
//
// Hints, in the order you may want them:
//   1. Pad first: concat a block of p rows of zeros above and below (dim 2), then p columns left and right
//      (dim 3). Tensor::zeros({B, C, p, W}) is such a block. (With p = 0, skip it.)
//   2. Fix one offset (u, v) inside the window. Over all windows, the pixel at that offset is the padded
//      image read from row u every s rows and from column v every s columns: two strided slices,
//      slice(x, dim, start, end, step), giving (B, C, Ho, Wo). Mind the end: the last window starts at
//      (Ho - 1) * s.
//   3. stack the k*k slices along a new dim 2, in (u, v) order: (B, C, k*k, Ho, Wo). Each window's numbers
//      must end up in (c, u, v) order, the window index (i, j) in front: permute, then reshape to
//      (B, Ho*Wo, C*k*k).
//   4. Then one shared linear map: (B, Ho*Wo, C*k*k) @ weight^T + bias.
//
//   images (B, C, H, W)  weight (E, C*k*k)  bias (E)  k  s  p  ->  out (B, Ho*Wo, E)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor convolution(const Tensor& images, const Tensor& weight, const Tensor& bias, int64_t k, int64_t s, int64_t p) {
    // Your code here: compute the convolution's output and return it.
    not_implemented("convolution");
}

}  // namespace learner

// The grader (examples/exercises/grading/convolution.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, convolution_info,
                        [](Grader& grader) { grade_convolution(learner::convolution, grader); });
}
