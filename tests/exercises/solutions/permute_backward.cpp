// A reference solution of examples/exercises/permute_backward.cpp, kept apart from the skeleton.
#include "tests/exercises/solutions/solutions.h"

namespace solution {

Tensor permute_backward(const Tensor& dout, const std::vector<int64_t>& dims) {
    std::vector<int64_t> inverse(dims.size());
    for (size_t d = 0; d < dims.size(); ++d) inverse[dims[d]] = static_cast<int64_t>(d);
    return permute(dout, inverse);
}

}  // namespace solution
