#pragma once
// The grading toolkit behind `make exercise NAME=...` (docs/exercises.md).
//
// A grader runs the learner's function on freshly drawn inputs, case after case from the smallest shape to
// the largest, and compares what comes back with what patchgrad itself computes in float64: the library's
// own op for values, central differences for gradients. It stops at the first case that fails, so the case
// it reports is the smallest one that fails, and says which element, expected against got, how many
// elements are wrong, and where in the docs the rule is derived.
//
// Grading goes in stages, each only after the one before has passed:
//   1. not implemented yet   the skeleton's body still throws NotImplemented (a different message from wrong)
//   2. runs                  the function returns without throwing
//   3. shape                 the result has the expected shape
//   4. values                every element agrees with the reference within a stated tolerance
//   5. gradients             for a forward the learner composes from ops (patch embedding, windows):
//                            autograd's gradients through it agree with central differences
// A gradient is always checked through a random, non-uniform probe `dout` (never through a plain sum, which
// hides gradients sent to the wrong element), and random inputs are drawn away from degenerate values.
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/gradcheck.h"
#include "core/ops.h"

namespace patchgrad {
inline namespace PATCHGRAD_FLAVOUR {

// What the skeleton's body throws until the learner writes it.
struct NotImplemented : std::logic_error {
    using std::logic_error::logic_error;
};
[[noreturn]] void not_implemented(const char* function_name);

// One exercise, as `make exercises` lists it.
struct ExerciseInfo {
    int number;           // its place in the course (docs/exercises.md): each needs only earlier ones
    const char* name;     // "softmax_backward": examples/exercises/softmax_backward.cpp
    const char* title;    // "softmax's backward"
    const char* chapter;  // where the rule is derived: "docs/layers_math.md, section Softmax"
    const char* rule;     // the rule in one line, printed as the hint of a failed grade
    const char* proves;   // what a pass proves, printed with it
};

// How close is close enough: |got - expected| <= atol + rtol * |expected|, elementwise.
struct Tolerance {
    double atol;
    double rtol;
    const char* why;  // printed with a failure, e.g. "float64, a different order of summation"
};
// Against the library's own float64 op: only the order of additions may differ.
constexpr Tolerance kSameMath{1e-10, 1e-8, "float64; only the order of additions may differ"};
// Against central differences with eps = 1e-6: their own error is about eps^2 times the third derivative.
constexpr Tolerance kCentralDifferences{1e-6, 1e-5, "central differences in float64, eps 1e-6"};
// Whole numbers (indices, masks): exactly.
constexpr Tolerance kExact{0, 0, "whole numbers: exactly"};

enum class GradeStatus { Passed, NotStarted, Failed };

struct GradeReport {
    GradeStatus status = GradeStatus::Passed;
    int cases_passed = 0;
    std::string failure;  // the first failure, as printed
};

class Grader {
public:
    Grader(const ExerciseInfo& info, uint64_t seed, std::ostream& out);

    // ---- drawing inputs -------------------------------------------------------------------------------
    // Uniform in [low, high): with the default range no element is 0, so nothing sits on a kink of |x|,
    // and no two draws collide by accident.
    Tensor random(const Shape& shape, double low = -2, double high = 2);
    // Uniform in [0.5, 1.5) with a random sign: for a layer's weight, never near zero.
    Tensor random_away_from_zero(const Shape& shape);
    int64_t random_int(int64_t low, int64_t high);  // a whole number in [low, high]
    uint64_t seed() const { return seed_; }

    // ---- one case ---------------------------------------------------------------------------------------
    // Starts a case: "x (3, 5)". Every check below belongs to the last case started.
    void begin_case(const std::string& description);
    // Calls the learner's code. NotImplemented ends the grade as "not started"; any other exception as a
    // failure that quotes its message.
    template <class Fn>
    auto call(Fn&& learner_code) -> decltype(learner_code()) {
        try {
            return learner_code();
        } catch (const NotImplemented&) {
            throw;
        } catch (const std::exception& error) {
            fail(std::string("your function threw: ") + error.what());
        }
    }
    // The result `got` (named `what`, e.g. "dx") has `expected`'s shape and every element is within
    // `tolerance` of it; `source` names where `expected` came from. Throws GradeFailed after printing.
    void expect_close(const std::string& what, const Tensor& got, const Tensor& expected, const Tolerance& tolerance,
                      const std::string& source);
    void expect_shape(const std::string& what, const Tensor& got, const Shape& expected);
    void expect_true(bool ok, const std::string& what_went_wrong);
    // For a learner's function composed of differentiable ops: autograd's gradients through it, for every
    // input, agree with central differences (the library's gradcheck, a random normal probe, with
    // kCentralDifferences' tolerances). `what` names the output ("tokens"), `names` the inputs in order.
    // Fails if the output records no gradient at all (written into data() rather than built from ops).
    void expect_gradients_flow(const std::string& what, const TensorFunction& learner_fn,
                               const std::vector<Tensor>& inputs, const std::vector<std::string>& names);

    // Report a failure of the current case and stop grading (throws GradeFailed).
    [[noreturn]] void fail(const std::string& message);

    // ---- the run ------------------------------------------------------------------------------------------
    // Runs `cases` (the exercise's grader), catches how it ended, prints the verdict and returns it.
    GradeReport run(const std::function<void(Grader&)>& cases);

private:
    struct GradeFailed {};
    ExerciseInfo info_;
    uint64_t seed_;
    Rng rng_;
    std::ostream& out_;
    std::string case_;
    int cases_started_ = 0;
    std::string failure_;
};

// d/dx sum(f(x) * probe), by central differences, one element of x at a time (x is restored).
//   x (any shape), probe (f(x).shape) -> (x.shape)
// The "numeric" side of every gradient a learner writes.
Tensor numeric_gradient(const std::function<Tensor(const Tensor&)>& f, const Tensor& x, const Tensor& probe,
                        double eps = 1e-6);

// The command line of an exercise's program: `build/exercises/NAME [--seed N] [--quiet] [--about]`. Draws a fresh
// seed from the clock unless one is given (so a grade is not a fixed set of inputs), runs the grader, and
// returns the exit code: 0 passed, 1 failed, 3 not started yet, 2 a bad command line. --about prints one
// line, "number name: title (chapter)", for `make exercises`.
int run_exercise(int argc, char** argv, const ExerciseInfo& info, const std::function<void(Grader&)>& cases);

}  // inline namespace PATCHGRAD_FLAVOUR
}  // namespace patchgrad
