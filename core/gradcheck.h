#pragma once
// gradcheck: does an op's hand-written backward agree with the derivative measured by finite differences?
//
// For a function f of tensors and a fixed random probe p of f's output shape, take the scalar
//     L(x) = sum(f(x) * p)
// (never a plain sum(f(x)): with p = 1 a backward that sends gradient to the wrong elements, or mixes up
// rows, can still produce the right totals). Then for every element x_j of every input that requires grad:
//     analytic_j = dL/dx_j            from backward(), seeded with dL/df = p
//     numeric_j  = (L(x + eps e_j) - L(x - eps e_j)) / (2 eps)      central difference, error O(eps^2)
// and the check passes when |analytic_j - numeric_j| <= atol + rtol * |numeric_j| for all j (PyTorch's rule).
// Meaningful only in float64: in float32 rounding alone moves L by ~1e-7 * |L|, which divided by 2 eps
// swamps the answer (docs/gradcheck.md works the numbers).
#include <functional>
#include <string>
#include <vector>

#include "tensor.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

struct GradcheckOptions {
    double eps = 1e-6;   // finite-difference step
    double atol = 1e-5;  // absolute tolerance
    double rtol = 1e-3;  // relative tolerance
    uint64_t seed = 0;   // seeds the probe p
};

// What was found for one input.
struct GradcheckInput {
    int64_t index = 0;            // position in the inputs list
    Shape shape;
    int64_t checked = 0;          // elements compared
    double max_abs_error = 0;     // max |analytic - numeric|
    double max_rel_error = 0;     // max |analytic - numeric| / max(|numeric|, tiny)
    bool passed = true;
    std::string failure;          // empty, or why it failed (the first element out of tolerance)
    std::vector<double> analytic; // both gradients, every element, for reports that show them
    std::vector<double> numeric;
};

struct GradcheckReport {
    bool passed = true;
    std::vector<GradcheckInput> inputs;  // one per input that requires grad
    std::string message() const;         // one line per failing input, or "gradcheck passed"
};

using TensorFunction = std::function<Tensor(const std::vector<Tensor>&)>;

// Checks every input that requires grad (there must be at least one). The inputs' values are perturbed
// in place while checking and restored afterwards; their grads are left as they were. An input whose
// analytic and numeric gradients are both exactly zero everywhere fails: such a check proves nothing.
GradcheckReport gradcheck(const TensorFunction& f, const std::vector<Tensor>& inputs,
                          const GradcheckOptions& options = {});

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
