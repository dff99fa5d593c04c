// The graders are tested too (docs/exercises.md): every grader passes its reference solution on several
// fresh seeds, fails the untouched skeleton as "not started" (running the real exercise program, as
// `make exercise` does), and fails planted mistakes: a sign flip, a dropped term, a wrong axis.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sys/wait.h>

#include "tests/exercises/grading_helpers.h"
#include "tests/exercises/solutions/solutions.h"
#include "tests/helpers.h"

namespace {

// Where `make` put the exercise programs: $PATCHGRAD_EXERCISES, which `make test` sets.
std::string exercise_program(const std::string& name) {
    const char* folder = std::getenv("PATCHGRAD_EXERCISES");
    return std::string(folder ? folder : "build/exercises") + "/" + name;
}

// Runs a program; returns its exit code and its standard output.
int run_program(const std::string& command, std::string* output) {
    FILE* pipe = popen(command.c_str(), "r");
    REQUIRE_MESSAGE(pipe != nullptr, "cannot run ", command);
    std::array<char, 4096> buffer;
    size_t n;
    while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) output->append(buffer.data(), n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST_CASE("exercises: every untouched skeleton is graded 'not started', with the rule and the chapter") {
    for (const ExerciseInfo& info : all_exercises()) {
        const std::string program = exercise_program(info.name);
        std::string output;
        const int code = run_program(program + " --seed 5", &output);
        CHECK_MESSAGE(code == 3, program, " exited with ", code, " (expected 3, not started; build it with make): ",
                      output);
        CHECK_MESSAGE(contains(output, "TODO  " + std::string(info.name)), output);
        CHECK_MESSAGE(contains(output, info.chapter), output);
    }
}

TEST_CASE("exercises: the catalogue lists each exercise once, numbered in course order") {
    const std::vector<ExerciseInfo> exercises = all_exercises();
    for (size_t i = 0; i < exercises.size(); ++i) {
        if (i > 0) CHECK_MESSAGE(exercises[i - 1].number < exercises[i].number, std::string(exercises[i].name));
        std::string about;
        CHECK(run_program(exercise_program(exercises[i].name) + " --about", &about) == 0);
        CHECK(contains(about, std::to_string(exercises[i].number) + " " + exercises[i].name + ": "));
    }
}

TEST_CASE("exercises: a failing grade names the element, expected against got, the rule and a rerun command") {
    // softmax_backward that forgets the sum term: dx = y * dy.
    std::string printed;
    const GradeReport report = grade(softmax_backward_info, 42, [](Grader& g) {
        grade_softmax_backward([](const Tensor& y, const Tensor& dy) { return y * dy; }, g);
    }, &printed);
    CHECK(report.status == GradeStatus::Failed);
    CHECK_MESSAGE(contains(printed, "FAIL  softmax_backward, case 1 (x (1, 1))"), printed);
    CHECK(contains(printed, "worst  dx["));
    CHECK(contains(printed, "elements are wrong"));
    CHECK(contains(printed, "hint: dx = y * (dy - sum(dy * y"));
    CHECK(contains(printed, "rerun these inputs: make exercise NAME=softmax_backward SEED=42"));
    // The same seed draws the same inputs, so the rerun reproduces the failure word for word.
    std::string again;
    grade(softmax_backward_info, 42, [](Grader& g) {
        grade_softmax_backward([](const Tensor& y, const Tensor& dy) { return y * dy; }, g);
    }, &again);
    CHECK(again == printed);
}

TEST_CASE("exercises: a function that throws, or returns the wrong shape, fails with what happened") {
    std::string printed;
    grade(softmax_backward_info, 1, [](Grader& g) {
        grade_softmax_backward([](const Tensor& y, const Tensor&) { return sum(y, -1); }, g);
    }, &printed);
    CHECK(contains(printed, "dx has shape (1,), expected (1, 1)"));
    grade(softmax_backward_info, 1, [](Grader& g) {
        grade_softmax_backward([](const Tensor& y, const Tensor&) { return matmul(y, Tensor::zeros({5, 2})); }, g);
    }, &printed);
    CHECK_MESSAGE(contains(printed, "your function threw: matmul"), printed);
}

// ---- one block per exercise: the solution passes, planted mistakes fail ------------------------------------

TEST_CASE("exercises: softmax_backward") {
    auto with = [](SoftmaxBackward f) { return [f](Grader& g) { grade_softmax_backward(f, g); }; };
    check_solution_passes(softmax_backward_info, with(solution::softmax_backward));
    check_mutant_fails(softmax_backward_info, "sign flip", with([](const Tensor& y, const Tensor& dy) {
        return y * (dy + sum(dy * y, -1, true));
    }));
    check_mutant_fails(softmax_backward_info, "sum over the wrong axis", with([](const Tensor& y, const Tensor& dy) {
        return y * (dy - sum(dy * y, 0, true));
    }));
    check_mutant_fails(softmax_backward_info, "dropped y factor", with([](const Tensor& y, const Tensor& dy) {
        return dy - sum(dy * y, -1, true);
    }));
}

// LayerNorm's backward from ops, with a weight on each of the two mean terms (1 and 1 is right).
LayerNormGradients layer_norm_backward_terms(const Tensor& x, const Tensor& weight, const Tensor& dout, double eps,
                                             double mean_term, double scale_term) {
    const int64_t C = x.size(-1);
    const Tensor centred = x - mean(x, -1, true);                                // (.., C)
    const Tensor rstd = pow(mean(centred * centred, -1, true) + eps, -0.5);     // (.., 1)
    const Tensor xhat = centred * rstd;
    const Tensor dxhat = dout * weight;
    const Tensor dx = rstd * (dxhat - mean_term * mean(dxhat, -1, true) -
                              scale_term * xhat * mean(dxhat * xhat, -1, true));
    return {dx, sum(reshape(dout * xhat, {-1, C}), 0), sum(reshape(dout, {-1, C}), 0)};
}

TEST_CASE("exercises: layer_norm_backward") {
    auto with = [](LayerNormBackward f) { return [f](Grader& g) { grade_layer_norm_backward(f, g); }; };
    check_solution_passes(layer_norm_backward_info, with(solution::layer_norm_backward));
    check_solution_passes(layer_norm_backward_info, with([](const Tensor& x, const Tensor& w, const Tensor& d, double eps) {
        return layer_norm_backward_terms(x, w, d, eps, 1, 1);  // the same rule written with ops passes too
    }));
    check_mutant_fails(layer_norm_backward_info, "dropped mean(dxhat) term", with([](const Tensor& x, const Tensor& w, const Tensor& d, double eps) {
        return layer_norm_backward_terms(x, w, d, eps, 0, 1);
    }));
    check_mutant_fails(layer_norm_backward_info, "dropped xhat mean(dxhat xhat) term", with([](const Tensor& x, const Tensor& w, const Tensor& d, double eps) {
        return layer_norm_backward_terms(x, w, d, eps, 1, 0);
    }));
    check_mutant_fails(layer_norm_backward_info, "dweight without xhat", with([](const Tensor& x, const Tensor& w, const Tensor& d, double eps) {
        LayerNormGradients g = layer_norm_backward_terms(x, w, d, eps, 1, 1);
        g.dweight = g.dbias;
        return g;
    }));
    check_mutant_fails(layer_norm_backward_info, "dbias from the last row only", with([](const Tensor& x, const Tensor& w, const Tensor& d, double eps) {
        LayerNormGradients g = layer_norm_backward_terms(x, w, d, eps, 1, 1);
        const int64_t C = x.size(-1);
        g.dbias = reshape(slice(reshape(d, {-1, C}), 0, d.numel() / C - 1, d.numel() / C), {C});
        return g;
    }));
}

TEST_CASE("exercises: gelu_backward") {
    auto with = [](GeluBackward f) { return [f](Grader& g) { grade_gelu_backward(f, g); }; };
    check_solution_passes(gelu_backward_info, with(solution::gelu_backward));
    check_mutant_fails(gelu_backward_info, "Phi only (the x phi(x) term dropped)", with([](const Tensor& x, const Tensor& dout) {
        return dout * (0.5 * (1 + erf(x / std::sqrt(2.0))));
    }));
    check_mutant_fails(gelu_backward_info, "the tanh approximation's derivative", with([](const Tensor& x, const Tensor& dout) {
        // d/dx 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3): close to the exact one, not equal
        const Tensor u = std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x);
        const Tensor t = tanh(u);
        const Tensor du = std::sqrt(2 / M_PI) * (1 + 3 * 0.044715 * x * x);
        return dout * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du);
    }));
}
