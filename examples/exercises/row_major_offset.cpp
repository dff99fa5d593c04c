// Exercise: from an index to an offset.                          make exercise NAME=row_major_offset
//
// A patchgrad tensor is a shape and one flat buffer, outermost dimension first (docs/tensor.md): element
// (i, j, k) of a (I, J, K) tensor sits at offset (i * J + j) * K + k.
// Your job: the offset of any multi-index in a tensor of any rank.
//
// Hints, in the order you may want them:
//   1. Walk the dimensions from the outermost: offset = offset * size + index, one dimension at a time.
//   2. A rank-0 tensor (shape ()) has one element, at offset 0.
//
//   index (rank numbers, index[d] in 0 .. shape[d] - 1), shape  ->  offset in 0 .. numel - 1
#include "examples/exercises/exercise.h"

namespace learner {

int64_t row_major_offset(const std::vector<int64_t>& index, const Shape& shape) {
    // Your code here: compute the offset and return it.
    not_implemented("row_major_offset");
}

}  // namespace learner

// The grader (examples/exercises/grading/row_major_offset.cpp) calls your function on fresh random inputs.
int main(int argc, char** argv) {
    return run_exercise(argc, argv, row_major_offset_info,
                        [](Grader& grader) { grade_row_major_offset(learner::row_major_offset, grader); });
}
