// Grades examples/exercises/row_major_offset.cpp: from a multi-index to an offset in the flat buffer.
#include "examples/exercises/grading/exercises.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

const ExerciseInfo row_major_offset_info{
    1,
    "row_major_offset",
    "from an index to an offset: row-major layout",
    "docs/tensor.md, section A tensor is a shape plus one flat buffer",
    "offset = ((i0 * S1 + i1) * S2 + i2) * S3 + ...: the last index moves fastest",
    "you know where every element of a row-major tensor lives, which is all that permute, slice and the "
    "matmul kernels rely on",
};

void grade_row_major_offset(const RowMajorOffset& learner_fn, Grader& grader) {
    const std::vector<Shape> shapes = {{1}, {5}, {2, 3}, {3, 1, 4}, {2, 3, 4, 5}, {1, 7, 1, 2, 3}};
    for (const Shape& shape : shapes) {
        grader.begin_case("shape " + to_string(shape));
        // The truth, without any offset arithmetic: number the elements 0, 1, 2, ... in memory order, then
        // cut out the one element with a slice per dimension and read its number.
        const Tensor numbered = reshape(Tensor::arange(numel_of(shape)), shape);
        for (int trial = 0; trial < 6; ++trial) {
            std::vector<int64_t> index(shape.size());
            Tensor element = numbered;
            for (size_t d = 0; d < shape.size(); ++d) {
                index[d] = grader.random_int(0, shape[d] - 1);
                element = slice(element, static_cast<int64_t>(d), index[d], index[d] + 1);
            }
            const int64_t expected = static_cast<int64_t>(element.item());
            const int64_t got = grader.call([&] { return learner_fn(index, shape); });
            std::string index_text = "[";
            for (size_t d = 0; d < index.size(); ++d) index_text += (d ? ", " : "") + std::to_string(index[d]);
            grader.expect_true(got == expected, "index " + index_text + "] of shape " + to_string(shape) + ": got offset " +
                                                    std::to_string(got) + ", expected " + std::to_string(expected));
        }
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
