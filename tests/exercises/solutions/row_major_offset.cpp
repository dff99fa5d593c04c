// A reference solution of examples/exercises/row_major_offset.cpp, kept apart from the skeleton.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

int64_t row_major_offset(const std::vector<int64_t>& index, const Shape& shape) {
    int64_t offset = 0;
    for (size_t d = 0; d < shape.size(); ++d) offset = offset * shape[d] + index[d];
    return offset;
}

}  // namespace solution
