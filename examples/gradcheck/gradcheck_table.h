#pragma once
// The results of the gradient-check catalogue (examples/gradcheck/gradcheck_suite.h) as plain strings and doubles, and the
// table `patchgrad gradcheck` prints from them.
//
// Why a header of its own, outside the flavour namespaces: the library is compiled twice (core/scalar.h),
// so a type that mentions Tensor or Scalar exists twice, as patchgrad::f32::X and patchgrad::f64::X, and
// the two are different types. The command line is compiled as float32 but runs the float64 checks too;
// to receive rows from both flavours it needs ONE row type that means the same in both. These structs use
// no Tensor and no Scalar, so they live in plain `namespace patchgrad` and every translation unit, float32
// or float64, sees the same definition. Header-only for the same reason: nothing here is compiled per
// flavour.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace patchgrad {

// One entry of the catalogue: what `patchgrad gradcheck --list` prints.
struct GradcheckSuiteEntry {
    std::string name;         // "layer_norm"
    std::string description;  // one line: what is checked, at which sizes
};

// How the checks were judged: central differences with step eps; an element passes when
// |analytic - numeric| <= atol + rtol * |numeric| (core/gradcheck.h).
struct GradcheckSuiteSettings {
    std::string flavour;  // "float64" or "float32"
    double eps = 0, atol = 0, rtol = 0;
};

// One input of one check (an op's operand, or a layer's input or parameter).
struct GradcheckSuiteInput {
    std::string name;              // "x", "weight", "blocks.0.attn.qkv.weight"
    std::string shape;             // "(2, 3, 4)"
    int64_t checked = 0;           // elements compared
    double max_abs_error = 0;      // max |analytic - numeric|
    double max_rel_error = 0;      // max |analytic - numeric| / |numeric| over elements outside atol (0: none)
    bool passed = true;
    std::vector<double> analytic;  // every element's gradient from backward()
    std::vector<double> numeric;   // every element's gradient from central differences
};

// One row of the table: one named check.
struct GradcheckSuiteRow {
    std::string name;
    std::string inputs;        // "x (2, 3, 4), weight (5, 4), bias (5)" or "x (2, 3, 4) + 4 parameters"
    int64_t checked = 0;       // elements compared, over all inputs
    double max_abs_error = 0;  // over all inputs
    double max_rel_error = 0;  // over all inputs
    bool passed = true;
    std::string failure;       // empty, or the first element out of tolerance (GradcheckReport::message)
    std::vector<GradcheckSuiteInput> inputs_detail;
};

// Text helpers of the table, in a namespace of their own so they never meet a library function's name.
namespace gradcheck_text {

// "1.2e-10", or "-" for an exact 0 (the relative error is only measured outside atol).
inline std::string format_error(double value) {
    if (value == 0) return "-";
    char text[32];
    std::snprintf(text, sizeof text, "%.1e", value);
    return text;
}

inline std::string pad_right(const std::string& text, size_t width) {
    return text.size() >= width ? text + " " : text + std::string(width - text.size(), ' ');
}

inline std::string pad_left(const std::string& text, size_t width) {
    return text.size() >= width ? " " + text : std::string(width - text.size(), ' ') + text;
}

}  // namespace gradcheck_text

// The table: a header naming the flavour and the tolerance, one line per row, and a summary.
//
//   name     inputs                                 checked  max abs err  max rel err  result
//   linear   x (2, 3, 4), weight (5, 4), bias (5)        49      1.3e-10            -  PASS
inline std::string format_gradcheck_table(const std::vector<GradcheckSuiteRow>& rows,
                                          const GradcheckSuiteSettings& settings) {
    using namespace gradcheck_text;
    char rule[200];
    std::snprintf(rule, sizeof rule, "%s, eps %g: an element passes when |analytic - numeric| <= %g + %g |numeric|\n",
                  settings.flavour.c_str(), settings.eps, settings.atol, settings.rtol);
    std::string text = rule;
    if (settings.flavour == "float32")
        text += "float32 is NOT TRUSTWORTHY for gradient checks: its finite differences are off by up to 1e-3\n"
                "(float64: ~1e-10), so a FAIL below may be rounding noise alone, and a PASS cannot see a bug smaller\n"
                "than the noise. Use float64, the default: docs/gradcheck.md works the numbers.\n";
    text += "\n";

    size_t name_width = 4, inputs_width = 6;
    for (const GradcheckSuiteRow& row : rows) {
        name_width = std::max(name_width, row.name.size());
        inputs_width = std::max(inputs_width, row.inputs.size());
    }
    text += pad_right("name", name_width + 2) + pad_right("inputs", inputs_width + 2) +
            "checked  max abs err  max rel err  result\n";
    size_t failed = 0;
    for (const GradcheckSuiteRow& row : rows) {
        text += pad_right(row.name, name_width + 2) + pad_right(row.inputs, inputs_width + 2) +
                pad_left(std::to_string(row.checked), 7) + pad_left(format_error(row.max_abs_error), 13) +
                pad_left(format_error(row.max_rel_error), 13) + "  " + (row.passed ? "PASS" : "FAIL") + "\n";
        if (!row.passed) ++failed;
    }
    char summary[200];
    std::snprintf(summary, sizeof summary,
                  "\n%zu %s: %zu passed, %zu failed (%s)\n"
                  "max rel err counts only the elements outside atol, where |analytic - numeric| > %g (\"-\": none)\n",
                  rows.size(), rows.size() == 1 ? "check" : "checks", rows.size() - failed, failed,
                  settings.flavour.c_str(), settings.atol);
    return text + summary;
}

// For --verbose: one input's first `count` elements, analytic and numeric side by side. The input shown is
// the first that failed, or else the first input, so a failing row shows where it went wrong.
inline std::string format_gradcheck_details(const GradcheckSuiteRow& row, size_t count = 6) {
    if (row.inputs_detail.empty()) return "";
    const GradcheckSuiteInput* input = &row.inputs_detail.front();
    for (const GradcheckSuiteInput& candidate : row.inputs_detail)
        if (!candidate.passed) {
            input = &candidate;
            break;
        }
    const size_t shown = std::min(count, input->analytic.size());
    std::string text = row.name + ": input " + input->name + " " + input->shape + ", first " + std::to_string(shown) +
                       " of " + std::to_string(input->analytic.size()) + " elements" +
                       (input->passed ? "" : " (this input FAILED)") + "\n";
    text += "  element            analytic             numeric   difference\n";
    for (size_t i = 0; i < shown; ++i) {
        char line[160];
        std::snprintf(line, sizeof line, "  %7zu  %18.12f  %18.12f  %11.1e\n", i, input->analytic[i], input->numeric[i],
                      input->analytic[i] - input->numeric[i]);
        text += line;
    }
    if (!row.failure.empty()) text += "  " + row.failure + "\n";
    return text;
}

}  // namespace patchgrad
