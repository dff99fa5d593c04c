// Exercise: permute's backward.                                  make exercise NAME=permute_backward
//
// The forward (core/ops/movement.cpp): out = permute(x, dims), out.shape[d] = x.shape[dims[d]]; for a
// (B, T, C) tensor, permute(x, {0, 2, 1}) is (B, C, T). No number changes, each only moves.
// Your job: given dout (out's shape) and dims, return dx (x's shape).
//
// Hints, in the order you may want them:
//   1. If out[p] = x[source(p)], then dx[source(p)] += dout[p]: each gradient goes back where its value
//      came from (docs/ops_movement.md, section 3).
//   2. So dx is dout moved back: permute it by the inverse permutation. Which one undoes dims?
//   3. Try it on dims = {1, 2, 0}: is the inverse {2, 0, 1} or {1, 2, 0}? inverse[dims[d]] = d.
//
//   dout (out's shape), dims  ->  dx (x's shape)
#include "examples/exercises/exercise.h"

namespace learner {

Tensor permute_backward(const Tensor& dout, const std::vector<int64_t>& dims) {
    // Your code here: compute dx and return it.
    not_implemented("permute_backward");
}

}  // namespace learner

// The grader (examples/exercises/grading/permute_backward.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, permute_backward_info,
                        [](Grader& grader) { grade_permute_backward(learner::permute_backward, grader); });
}
