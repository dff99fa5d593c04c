#pragma once
// The gradient-check catalogue of BOTH flavours, for a program that runs both: the command line is compiled
// as float32 (for training) yet `patchgrad gradcheck` runs the float64 checks, and with --float32 the
// float32 ones. Both are called by their full names: f32::run_gradcheck_suite, f64::run_gradcheck_suite.
//
// Why this header names patchgrad::f32 or patchgrad::f64 explicitly, when the rest of the code never does:
// examples/gradcheck/gradcheck_suite.h declares its functions in `inline namespace PATCHGRAD_FLAVOUR`, that
// is in the ONE flavour the including file is compiled as. A float32 file that includes it sees only the
// float32 catalogue; the float64 functions exist (libpatchgrad_f64.a defines them as patchgrad::f64::...),
// but no header of that file declares them. So here the other flavour's are declared by their full names.
// This is safe because
//   * the functions take and return only flavour-neutral types (std::string, uint64_t, Kernels and the
//     structs of examples/gradcheck/gradcheck_table.h, which live in plain `namespace patchgrad`), so the
//     declarations mean the same in a float32 file and in a float64 one;
//   * an inline namespace's name is part of the linker symbol (as std::__cxx11 is), so the declaration
//     patchgrad::f64::run_gradcheck_suite links to exactly the float64 definition.
// The file's own flavour is declared by examples/gradcheck/gradcheck_suite.h alone: reopening it here as
// `namespace patchgrad::f32` (without `inline`) would be legal C++ but would read as if it were not inline,
// and clang warns about exactly that.
#include <cstdint>
#include <string>
#include <vector>

#include "core/scalar.h"
#include "examples/gradcheck/gradcheck_suite.h"
#include "examples/gradcheck/gradcheck_table.h"
#include "nn/kernels.h"

#ifdef PATCHGRAD_FLOAT64
namespace patchgrad::f32 {  // the other flavour of a float64 file
#else
namespace patchgrad::f64 {  // the other flavour of a float32 file
#endif
std::vector<GradcheckSuiteEntry> gradcheck_suite_entries();
GradcheckSuiteSettings gradcheck_suite_settings();
std::vector<GradcheckSuiteRow> run_gradcheck_suite(const std::vector<std::string>& names, uint64_t seed,
                                                   Kernels kernels);
}  // namespace patchgrad::f32 or patchgrad::f64
