#pragma once
// What the tests of the graders share (tests/test_exercises.cpp, tests/test_exercises_layers.cpp): grade
// a function in memory, check that a solution passes on several seeds, that a planted mistake fails.
#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <sstream>
#include <string>

#include "examples/exercises/grading/grader.h"
#include "tests/helpers.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// Grades `cases` with `seed`; returns the report and, through `printed`, what the grader printed.
inline GradeReport grade(const ExerciseInfo& info, uint64_t seed, const std::function<void(Grader&)>& cases,
                         std::string* printed = nullptr) {
    std::ostringstream out;
    Grader grader(info, seed, out);
    GradeReport report = grader.run(cases);
    if (printed) *printed = out.str();
    return report;
}

// Passes on several seeds: a grade does not depend on one lucky draw.
inline void check_solution_passes(const ExerciseInfo& info, const std::function<void(Grader&)>& cases) {
    for (uint64_t seed : {1u, 2u, 3u, 12345u}) {
        std::string printed;
        const GradeReport report = grade(info, seed, cases, &printed);
        CHECK_MESSAGE(report.status == GradeStatus::Passed, std::string(info.name), " seed ", seed, ": ", printed);
    }
}

// A planted mistake must fail (not pass, and not count as "not started") on every seed tried; when `says`
// is given, the failure must say it (the stage and the tensor that is blamed, e.g. "dk: ").
inline void check_mutant_fails(const ExerciseInfo& info, const char* mutant,
                               const std::function<void(Grader&)>& cases, const std::string& says = "") {
    for (uint64_t seed : {1u, 7u}) {
        std::string printed;
        const GradeReport report = grade(info, seed, cases, &printed);
        CHECK_MESSAGE(report.status == GradeStatus::Failed, std::string(info.name), ": the mutant '",
                      std::string(mutant), "' was not caught (seed ", seed, "): ", printed);
        CHECK_MESSAGE(contains(report.failure, says), std::string(info.name), ": the mutant '", std::string(mutant),
                      "' failed without saying '", says, "' (seed ", seed, "): ", printed);
    }
}

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
