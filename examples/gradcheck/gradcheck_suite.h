#pragma once
// The gradient-check catalogue: every op, layer and model of patchgrad checked against finite differences
// at small sizes, by name. One list serves both front doors:
//   build/patchgrad gradcheck [NAME ...]     (examples/cli/gradcheck.cpp) prints the table
//   make test                                (tests/test_gradcheck_suite.cpp) fails on any failing row
//
//   std::vector<GradcheckSuiteRow> rows = run_gradcheck_suite({"linear", "swin"}, /*seed=*/0);
//   std::cout << format_gradcheck_table(rows, gradcheck_suite_settings());
//
// Every check builds its function and its inputs from the seed (inputs uniform in [-1, 1), moved away
// from kinks where the op has one; layer parameters perturbed off their init so no gradient is trivially
// zero) and runs core/gradcheck.h on every input that requires grad. docs/gradcheck.md explains the table.
//
// The rows are flavour-neutral types (examples/gradcheck/gradcheck_table.h), so a program compiled as float32 can run both
// flavours' catalogues through examples/gradcheck/gradcheck_suite_flavours.h.
#include <cstdint>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "examples/gradcheck/gradcheck_table.h"
#include "nn/kernels.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Every check, in the order the table prints them, with a one-line description.
std::vector<GradcheckSuiteEntry> gradcheck_suite_entries();

// The step and tolerances of this flavour. float64: eps 1e-6, atol 1e-5, rtol 1e-3 (PyTorch's gradcheck).
// float32: eps 1e-3 (near the best step for float, u^(1/3) ~ 4e-3) and the SAME tolerances, so the table
// shows honestly how far float32's finite differences are from that standard.
GradcheckSuiteSettings gradcheck_suite_settings();
GradcheckOptions gradcheck_suite_options(uint64_t seed);

// Runs the named checks (all of them when `names` is empty), in the order given. An unknown name throws
// std::invalid_argument listing the known ones, before anything runs.
std::vector<GradcheckSuiteRow> run_gradcheck_suite(const std::vector<std::string>& names, uint64_t seed,
                                                   Kernels kernels = Kernels::fast);

// One row from a report of core/gradcheck.h: `input_names` names the inputs that require grad, in order.
// Exposed so that a check of your own op prints the same table (examples/custom_op_f64.cpp).
GradcheckSuiteRow gradcheck_row(const std::string& name, const GradcheckReport& report,
                                const std::vector<std::string>& input_names);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
