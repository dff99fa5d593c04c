// patchgrad gradcheck: the gradient checks of patchgrad's ops, layers and models, by name, as a table.
//
//   build/patchgrad gradcheck                      every check, float64
//   build/patchgrad gradcheck linear swin --verbose
//   build/patchgrad gradcheck softmax --float32    the same check in single precision: see why it is not trusted
//   build/patchgrad gradcheck --list
//
// The catalogue itself is examples/gradcheck/gradcheck_suite.cpp, shared with `make test`. This file is compiled as float32,
// like the rest of the command line, and reaches the float64 catalogue through examples/gradcheck/gradcheck_suite_flavours.h.
// Exit code: 0 when every check passes, 1 when any fails, 2 for a usage mistake (an unknown name).
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "examples/cli/args.h"
#include "examples/cli/commands.h"
#include "examples/gradcheck/gradcheck_suite_flavours.h"

namespace patchgrad::cli {

int run_gradcheck(int argc, char** argv) {
    std::vector<std::string> names;
    bool list = false, verbose = false, float32 = false, reference = false;
    int64_t seed = 0;
    ArgParser args("patchgrad gradcheck",
                   "Checks hand-written backward passes against central finite differences, in float64, for the "
                   "named\nops, layers and models (all of them when none is named), at small sizes, and prints a "
                   "table.\nExits with 1 when any check fails.");
    args.positionals("[NAME ...]", &names, "the checks to run (--list names them); all when none is given", 1000);
    args.flag("--list", &list, "list the checks with a one-line description, and run nothing");
    args.option("--seed", &seed, "seeds the inputs, the parameters and the random probe", 0, 1000000000);
    args.flag("--verbose", &verbose, "for one input of each check, the first analytic and numeric gradients");
    args.flag("--float32", &float32, "run in float32 instead, to see why it is not trustworthy (docs/gradcheck.md)");
    args.flag("--reference", &reference, "layers and models run their textbook twins (the op checks check each op itself)");
    if (!args.parse(argc, argv)) return 0;

    // The names are the same in both flavours; check them here, so a typo is a usage mistake (exit 2).
    const std::vector<GradcheckSuiteEntry> entries = f64::gradcheck_suite_entries();
    if (list) {
        size_t width = 0;
        for (const GradcheckSuiteEntry& entry : entries) width = std::max(width, entry.name.size());
        for (const GradcheckSuiteEntry& entry : entries)
            std::cout << entry.name << std::string(width + 2 - entry.name.size(), ' ') << entry.description << "\n";
        return 0;
    }
    std::string known;
    for (const GradcheckSuiteEntry& entry : entries) known += (known.empty() ? "" : ", ") + entry.name;
    for (const std::string& name : names) {
        bool found = false;
        for (const GradcheckSuiteEntry& entry : entries) found = found || entry.name == name;
        if (!found)
            throw UsageError("patchgrad gradcheck: unknown check '" + name + "'; the known checks are: " + known);
    }

    const auto seed_value = static_cast<uint64_t>(seed);
    const Kernels kernels = reference ? Kernels::reference : Kernels::fast;
    const std::vector<GradcheckSuiteRow> rows =
        float32 ? f32::run_gradcheck_suite(names, seed_value, kernels) : f64::run_gradcheck_suite(names, seed_value, kernels);
    const GradcheckSuiteSettings settings = float32 ? f32::gradcheck_suite_settings() : f64::gradcheck_suite_settings();
    std::cout << format_gradcheck_table(rows, settings);
    if (verbose)
        for (const GradcheckSuiteRow& row : rows) std::cout << "\n" << format_gradcheck_details(row);
    bool all_passed = true;
    for (const GradcheckSuiteRow& row : rows) all_passed = all_passed && row.passed;
    return all_passed ? 0 : 1;
}

}  // namespace patchgrad::cli
