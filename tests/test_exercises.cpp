// The graders are tested too (docs/exercises.md): every grader passes its reference solution on several
// fresh seeds, fails the untouched skeleton as "not started" (running the real exercise program, as
// `make exercise` does), and fails planted mistakes: a sign flip, a dropped term, a wrong axis.
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sys/wait.h>

#include "optim/clip.h"
#include "tests/exercises/grading_helpers.h"
#include "tests/exercises/solutions/solutions.h"
#include "tests/helpers.h"

namespace {

// Where `make` put the exercise programs: $PATCHGRAD_EXERCISES, which `make test` sets. A program built for
// another machine runs under the emulator $PATCHGRAD_EMULATOR names (qemu-aarch64 ..., which
// `make test-aarch64` sets), as the tests themselves do.
std::string exercise_program(const std::string& name) {
    const char* folder = std::getenv("PATCHGRAD_EXERCISES");
    const std::string emulator = patchgrad::emulator_command();
    const std::string prefix = emulator.empty() ? "" : emulator + " ";
    return prefix + (folder ? folder : "build/exercises") + "/" + name;
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

TEST_CASE("exercises: broadcast_mul_backward") {
    auto with = [](BroadcastMulBackward f) { return [f](Grader& g) { grade_broadcast_mul_backward(f, g); }; };
    check_solution_passes(broadcast_mul_backward_info, with(solution::broadcast_mul_backward));
    check_mutant_fails(broadcast_mul_backward_info, "no sum over the stretched dimensions", with([](const Tensor& a, const Tensor& b, const Tensor& dout) {
        return std::pair{dout * b, dout * a};
    }));
    check_mutant_fails(broadcast_mul_backward_info, "gradients swapped (da from a)", with([](const Tensor& a, const Tensor& b, const Tensor& dout) {
        return std::pair{solution::reduce_to(dout * a, a.shape()), solution::reduce_to(dout * b, b.shape())};
    }));
    check_mutant_fails(broadcast_mul_backward_info, "mean instead of sum", with([](const Tensor& a, const Tensor& b, const Tensor& dout) {
        auto [da, db] = solution::broadcast_mul_backward(a, b, dout);
        const double a_share = static_cast<double>(a.numel()) / dout.numel(), b_share = static_cast<double>(b.numel()) / dout.numel();
        return std::pair{da * a_share, db * b_share};
    }));
}

TEST_CASE("exercises: matmul_backward") {
    auto with = [](MatmulBackward f) { return [f](Grader& g) { grade_matmul_backward(f, g); }; };
    check_solution_passes(matmul_backward_info, with(solution::matmul_backward));
    check_mutant_fails(matmul_backward_info, "db with its sign flipped", with([](const Tensor& a, const Tensor& b, const Tensor& dout) {
        return std::pair{solution::reduce_to(matmul(dout, transpose(b, -2, -1)), a.shape()),
                         solution::reduce_to(matmul(transpose(a, -2, -1), dout), b.shape()) * -1.0};
    }));
    check_mutant_fails(matmul_backward_info, "batch not summed for a shared operand", with([](const Tensor& a, const Tensor& b, const Tensor& dout) {
        const Tensor db = matmul(transpose(a, -2, -1), dout);
        const Tensor last = db.dim() > b.dim() ? reshape(slice(reshape(db, {-1, b.size(-2), b.size(-1)}), 0, 0, 1), b.shape()) : db;
        return std::pair{solution::matmul_backward(a, b, dout).first, solution::reduce_to(last, b.shape())};
    }));
}

TEST_CASE("exercises: cross_entropy_backward") {
    auto with = [](CrossEntropyBackward f) { return [f](Grader& g) { grade_cross_entropy_backward(f, g); }; };
    check_solution_passes(cross_entropy_backward_info, with(solution::cross_entropy_backward));
    check_mutant_fails(cross_entropy_backward_info, "no mean over rows", with([](const Tensor& logits, const Tensor& t, double s) {
        return solution::cross_entropy_backward(logits, t, s) * static_cast<double>(logits.size(0));
    }));
    check_mutant_fails(cross_entropy_backward_info, "smoothing ignored", with([](const Tensor& logits, const Tensor& t, double) {
        return solution::cross_entropy_backward(logits, t, 0);
    }));
    check_mutant_fails(cross_entropy_backward_info, "target minus prediction", with([](const Tensor& logits, const Tensor& t, double s) {
        return solution::cross_entropy_backward(logits, t, s) * -1.0;
    }));
}

// The text of a file, for the docs checks below (the tests run from the repository root).
static std::string file_text(const std::string& path) {
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read ", path);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("exercises: docs/exercises.md quotes real grades, and every exercise is listed there and in its chapter") {
    const std::string doc = file_text("docs/exercises.md");
    auto wrong_sum_axis = [](Grader& g) {
        grade_softmax_backward([](const Tensor& y, const Tensor& dy) { return y * dy - y * sum(dy * y, 0, true); }, g);
    };
    std::string failing, passing;
    grade(softmax_backward_info, 2026, wrong_sum_axis, &failing);
    grade(softmax_backward_info, 2026, [](Grader& g) { grade_softmax_backward(solution::softmax_backward, g); }, &passing);
    CHECK_MESSAGE(contains(doc, failing), "docs/exercises.md should quote this failing grade:\n", failing);
    CHECK_MESSAGE(contains(doc, passing), "docs/exercises.md should quote this passing grade:\n", passing);

    for (const ExerciseInfo& info : all_exercises()) {
        const std::string command = std::string("make exercise NAME=") + info.name;
        CHECK_MESSAGE(contains(doc, "| " + std::to_string(info.number) + " | `" + info.name + "` |"),
                      "docs/exercises.md's table lacks exercise ", info.number, " ", std::string(info.name));
        const std::string chapter = std::string(info.chapter).substr(0, std::string(info.chapter).find(','));
        CHECK_MESSAGE(contains(file_text(chapter), command), chapter, " should end with its exercise: ", command);
        CHECK_MESSAGE(contains(file_text(std::string("examples/exercises/") + info.name + ".cpp"), command),
                      "the skeleton's first line names its command");
    }
}

TEST_CASE("exercises: row_major_offset") {
    auto with = [](RowMajorOffset f) { return [f](Grader& g) { grade_row_major_offset(f, g); }; };
    check_solution_passes(row_major_offset_info, with(solution::row_major_offset));
    check_mutant_fails(row_major_offset_info, "column-major (first index fastest)", with([](const std::vector<int64_t>& index, const Shape& shape) {
        int64_t offset = 0;
        for (size_t d = shape.size(); d-- > 0;) offset = offset * shape[d] + index[d];
        return offset;
    }));
    check_mutant_fails(row_major_offset_info, "indices added without strides", with([](const std::vector<int64_t>& index, const Shape&) {
        int64_t offset = 0;
        for (int64_t i : index) offset += i;
        return offset;
    }));
}

TEST_CASE("exercises: tanh_op") {
    auto with = [](TanhOp f) { return [f](Grader& g) { grade_tanh_op(f, g); }; };
    check_solution_passes(tanh_op_info, with(solution::tanh_op));
    // A closure that assigns (=) into the gradient instead of adding (+=): right once, wrong when x is used twice.
    check_mutant_fails(tanh_op_info, "assigns instead of adding", with([](const Tensor& x) {
        Tensor y = tanh(x.detach());
        const Tensor saved = y.detach();
        y.set_backward("tanh_op", {x}, [x, saved](const Tensor& dout) {
            double* dx = x.grad_data();
            for (int64_t i = 0; i < x.numel(); ++i) dx[i] = dout.data()[i] * (1 - saved.data()[i] * saved.data()[i]);
        });
        return y;
    }));
    check_mutant_fails(tanh_op_info, "derivative 1 - y instead of 1 - y^2", with([](const Tensor& x) {
        Tensor y = tanh(x.detach());
        const Tensor saved = y.detach();
        y.set_backward("tanh_op", {x}, [x, saved](const Tensor& dout) {
            double* dx = x.grad_data();
            for (int64_t i = 0; i < x.numel(); ++i) dx[i] += dout.data()[i] * (1 - saved.data()[i]);
        });
        return y;
    }));
    check_mutant_fails(tanh_op_info, "no backward recorded", with([](const Tensor& x) { return tanh(x.detach()); }));
}

TEST_CASE("exercises: central_difference") {
    auto with = [](CentralDifference f) { return [f](Grader& g) { grade_central_difference(f, g); }; };
    check_solution_passes(central_difference_info, with(solution::central_difference));
    check_mutant_fails(central_difference_info, "one-sided difference", with([](const std::function<Tensor(const Tensor&)>& f, Tensor& x, const Tensor& probe, double eps) {
        auto L = [&] { return sum(f(x) * probe).item(); };
        Tensor g = Tensor::empty(x.shape());
        const double base = L();
        for (int64_t j = 0; j < x.numel(); ++j) {
            const double saved = x.data()[j];
            x.data()[j] = saved + eps;
            g.data()[j] = (L() - base) / eps;
            x.data()[j] = saved;
        }
        return g;
    }));
    check_mutant_fails(central_difference_info, "x not restored", with([](const std::function<Tensor(const Tensor&)>& f, Tensor& x, const Tensor& probe, double eps) {
        Tensor g = solution::central_difference(f, x, probe, eps);
        x.data()[0] += eps;
        return g;
    }));
    check_mutant_fails(central_difference_info, "plain sum instead of the probe", with([](const std::function<Tensor(const Tensor&)>& f, Tensor& x, const Tensor& probe, double eps) {
        return solution::central_difference(f, x, Tensor::ones(probe.shape()), eps);
    }));
}

TEST_CASE("exercises: permute_backward") {
    auto with = [](PermuteBackward f) { return [f](Grader& g) { grade_permute_backward(f, g); }; };
    check_solution_passes(permute_backward_info, with(solution::permute_backward));
    check_mutant_fails(permute_backward_info, "permuted by dims again, not by its inverse", with([](const Tensor& dout, const std::vector<int64_t>& dims) {
        return permute(dout, dims);
    }));
    check_mutant_fails(permute_backward_info, "reshaped instead of moved", with([](const Tensor& dout, const std::vector<int64_t>& dims) {
        Shape shape(dims.size());
        for (size_t d = 0; d < dims.size(); ++d) shape[dims[d]] = dout.size(static_cast<int64_t>(d));
        return reshape(dout, shape);
    }));
}

TEST_CASE("exercises: training_step") {
    auto with = [](TrainingStep f) { return [f](Grader& g) { grade_training_step(f, g); }; };
    check_solution_passes(training_step_info, with(solution::training_step));
    using Model = std::function<Tensor(const Tensor&)>;
    check_mutant_fails(training_step_info, "no zero_grad: gradients pile up", with([](const Model& model, const Tensor& images, const Tensor& labels, Optimizer& optimizer, double max_norm) {
        Tensor loss = cross_entropy(model(images), labels);
        loss.backward();
        std::vector<Tensor> parameters;
        for (const auto& [name, p] : optimizer.named_parameters()) parameters.push_back(p);
        clip_grad_norm(parameters, max_norm);
        optimizer.step();
        return static_cast<double>(loss.item());
    }));
    check_mutant_fails(training_step_info, "no clipping", with([](const Model& model, const Tensor& images, const Tensor& labels, Optimizer& optimizer, double) {
        optimizer.zero_grad();
        Tensor loss = cross_entropy(model(images), labels);
        loss.backward();
        optimizer.step();
        return static_cast<double>(loss.item());
    }));
    check_mutant_fails(training_step_info, "the loss after the update", with([](const Model& model, const Tensor& images, const Tensor& labels, Optimizer& optimizer, double max_norm) {
        solution::training_step(model, images, labels, optimizer, max_norm);
        NoGradGuard no_grad;
        return static_cast<double>(cross_entropy(model(images), labels).item());
    }));
}

TEST_CASE("exercises: crop_and_flip") {
    auto with = [](CropAndFlip f) { return [f](Grader& g) { grade_crop_and_flip(f, g); }; };
    check_solution_passes(crop_and_flip_info, with(solution::crop_and_flip));
    check_mutant_fails(crop_and_flip_info, "the flip before the crop", with([](const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
        // mirrors the image, then crops at the same corner: differs whenever dx != P
        const int64_t W = image.size(2);
        std::vector<int64_t> reversed(W);
        for (int64_t x = 0; x < W; ++x) reversed[x] = W - 1 - x;
        return solution::crop_and_flip(flip ? index_select(image, 2, reversed) : image, dy, dx, P, false);
    }));
    check_mutant_fails(crop_and_flip_info, "the corner without the padding's offset", with([](const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
        return solution::crop_and_flip(image, dy + P, dx + P, P, flip);
    }));
    check_mutant_fails(crop_and_flip_info, "rows and columns swapped", with([](const Tensor& image, int64_t dy, int64_t dx, int64_t P, bool flip) {
        return solution::crop_and_flip(image, dx, dy, P, flip);
    }));
}

TEST_CASE("exercises: every chapter of the course in docs/README.md ends with its exercises") {
    const std::string path = file_text("docs/README.md");
    const size_t course = path.find("## The course"), next = path.find("\n## ", course + 1);
    REQUIRE(course != std::string::npos);
    const std::string table = path.substr(course, next - course);
    int chapters = 0;
    for (size_t at = table.find("]("); at != std::string::npos; at = table.find("](", at + 2)) {
        const std::string chapter = "docs/" + table.substr(at + 2, table.find(')', at) - at - 2);
        const std::string text = file_text(chapter);
        ++chapters;
        CHECK_MESSAGE(contains(text, "\n## Exercises\n"), chapter, " has no Exercises section");
        CHECK_MESSAGE(contains(text.substr(text.rfind("\n## Exercises\n") + 1), "make exercise NAME="), chapter,
                      "'s Exercises section names no exercise");
    }
    CHECK(chapters == 15);
}
